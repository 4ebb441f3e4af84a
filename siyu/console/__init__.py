"""The operator console: NiceGUI pages in Chinese and English, mounted on the FastAPI app."""

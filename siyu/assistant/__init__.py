"""The community assistant (社群助手): a per-workspace knowledge base answering WeCom groups."""

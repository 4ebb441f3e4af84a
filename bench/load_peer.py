"""The load bench's peer: a bare FastAPI app under uvicorn on the same machine, one JSON
endpoint that reads nothing — what the HTTP stack alone costs.

``python -m bench.load_peer PORT``
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.post("/hello")
def echo(body: dict[str, object]) -> dict[str, int]:
    return {"keys": len(body)}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

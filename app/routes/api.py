"""The JSON API: health, the model list, and runs."""

from anyio import to_thread
from fastapi import APIRouter, Request

from app import run, zoo
from app.encode import JSON
from app.schemas import ErrorOut, ModelInfo, ModelList, RunRequest, RunResponse

router = APIRouter()

REFUSALS = {
    404: {"model": ErrorOut, "description": "unknown model"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "bad input: the message says what and where"},
}


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    """Answers 200 when the app can serve."""
    return {"status": "ok"}


@router.get("/api/models", response_model=ModelList)
def models() -> JSON:
    """The built-in models: id, title, description, input (vocab or size), hidden size, layers."""
    return JSON({"models": [run.model_info(m) for m in zoo.listed()]})


@router.get("/api/models/{model_id}", response_model=ModelInfo, responses=REFUSALS)  # type: ignore[arg-type]
def model(model_id: str, request: Request) -> JSON:
    """One model by id, listed or not (any random-h<H>-l<layers>-s<seed> works)."""
    return JSON(run.model_info(run.find_model(model_id, request.app.state.settings)))


@router.post("/api/run", response_model=RunResponse, responses=REFUSALS)  # type: ignore[arg-type]
async def run_model(req: RunRequest, request: Request) -> JSON:
    """Run an LSTM over a sequence and answer every gate, cell and hidden state, per layer, as T×H."""
    settings = request.app.state.settings

    def work() -> JSON:  # compute and serialize off the event loop
        return JSON(run.execute(req, settings))

    return await to_thread.run_sync(work, limiter=request.app.state.compute_slots)

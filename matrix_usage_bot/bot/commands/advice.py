"""`!usage whatif MODEL [P]` and `!usage savings [P]`: what would lower this room's bill (README: Advice)."""

from __future__ import annotations

from matrix_usage_bot.tracking.advice import savings, whatif
from matrix_usage_bot.tracking.validation import MATRIX_ID

from ..render.advice import savings_answer, whatif_answer
from ..render.answers import Answer
from .args import PERIOD
from .catalogue import COMMANDS as registry
from .registry import Arg
from .request import Request


def model_name(token: str) -> str:
    if len(token) > MATRIX_ID:
        raise ValueError(f"model names are at most {MATRIX_ID} characters")
    return token


MODEL = Arg("model", "MODEL", model_name)


@registry.command("whatif", help="this room's calls priced as if made with MODEL (model or provider/model), by agent"
                  " (this month by default)", args=[MODEL, PERIOD])  # fmt: skip
async def what_if(req: Request, model: str, period: str | None) -> Answer:
    result = await whatif(req.services.store, req.services.pricer, req.period(period), req.rooms, model)
    return whatif_answer(result)


@registry.command("savings", help="what prompt caching saved this room, and the cache hit rate by agent and model"
                  " (this month by default)", args=[PERIOD])  # fmt: skip
async def caching_savings(req: Request, period: str | None) -> Answer:
    return savings_answer(await savings(req.services.store, req.services.pricer, req.period(period), req.rooms))

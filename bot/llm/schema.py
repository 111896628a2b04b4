"""The structured output the LLM must return, and its conversion to the core `GradeResult`.

Field order matters: models generate fields in schema order, so `reasoning` comes first and the
verdicts and score are decided after it (evals' `cot_classify`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.models import GradeResult, KeyPointResult, Rubric, TokenUsage, Verdict

GRADER_NAME = "llm"


class KeyPointAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="1-based number of the key point")
    key_point: str
    verdict: Literal["covered", "partial", "missing", "incorrect"]
    evidence: str = Field(description="shortest exact quote from the answer, or empty when missing")


# No defaults anywhere: strict structured output requires every field. The docstring is sent to the model.
class LLMGrade(BaseModel):
    """A grade of one interview answer: reasoning first, then per-key-point verdicts and the score."""

    model_config = ConfigDict(extra="forbid")

    reasoning: str
    key_points: list[KeyPointAssessment]
    factual_errors: list[str]
    score: float = Field(ge=0, le=10)
    strengths: list[str]
    improvements: list[str]
    follow_up_question: str

    def check_against(self, rubric: Rubric) -> None:
        """Raise ValueError unless every rubric key point is assessed exactly once (a re-ask can fix it)."""
        expected = list(range(1, len(rubric.key_points) + 1))
        got = sorted(item.index for item in self.key_points)
        if got != expected:
            raise ValueError(
                f"key_points must assess each key point exactly once with index {expected}; got indexes {got}"
            )

    def to_grade_result(
        self, rubric: Rubric, *, model: str, prompt_version: str, usage: TokenUsage, latency_ms: float
    ) -> GradeResult:
        by_index = {item.index: item for item in self.key_points}
        key_points = [
            # The rubric's own wording, not the model's echo of it, is what we store.
            KeyPointResult(key_point=text, verdict=Verdict(assessed.verdict), evidence=assessed.evidence)
            for number, text in enumerate(rubric.key_points, 1)
            if (assessed := by_index.get(number)) is not None
        ]
        return GradeResult(
            score=round(self.score, 1),
            key_points=key_points,
            factual_errors=self.factual_errors,
            strengths=self.strengths,
            improvements=self.improvements,
            follow_up=self.follow_up_question.strip() or None,
            reasoning=self.reasoning,
            grader=GRADER_NAME,
            model=model,
            prompt_version=prompt_version,
            usage=usage,
            latency_ms=latency_ms,
        )

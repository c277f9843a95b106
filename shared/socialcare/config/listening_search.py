"""listening.yaml's ``search`` section as a validated model: what the ListeningFunction searches on
X (brand keywords, competitors), how often it may read, and what a read costs
(``flows.listening_search``; docs/satisfaction.md). Imported by ``config.rules.ListeningRules``."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# X's recent search: a query is at most 512 characters on pay-per-use (4,096 on Enterprise).
# https://docs.x.com/x-api/posts/search/integrate/build-a-query
MAX_QUERY = 512
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Competitor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="a short id for counters and reports: lower case, digits, - or _")
    terms: list[str] = Field(min_length=1, description="names and @handles that mention it")

    @field_validator("name")
    @classmethod
    def _short_id(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"competitor name {value!r}: use lower case letters, digits, - or _ (at most 40)")
        return value


class ListeningSearch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str = Field(default="", description="the X API credentials account to search with ('' = the first)")
    brand: str = Field(default="brand", description="the brand's name in share-of-voice counters and reports")
    keywords: list[str] = Field(default_factory=list, description="the brand's name without @, product names")
    competitors: list[Competitor] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list, description="lang: operators (empty: any language)")
    max_reads_per_day: int = Field(default=1000, ge=0, description="posts read per UTC day, all runs together")
    price_per_read_usd: float = Field(default=0.005, ge=0, description="X 'Posts: Read', per post returned")
    price_per_user_usd: float = Field(default=0.010, ge=0, description="X 'User: Read', per author expanded")
    page_size: int = Field(default=100, ge=10, le=100, description="max_results per search request")
    max_pages: int = Field(default=5, ge=1, le=50, description="pages per run")
    sov_ttl_days: int = Field(default=400, ge=1, description="how long the daily share-of-voice counters are kept")

    def terms(self) -> list[str]:
        return [*self.keywords, *(t for c in self.competitors for t in c.terms)]

    def x_query(self) -> str:
        """The X search query: every brand and competitor term, originals only."""
        terms = " OR ".join(f'"{t}"' if " " in t else t for t in dict.fromkeys(self.terms()))
        langs = " OR ".join(f"lang:{lang}" for lang in self.languages)
        parts = [f"({terms})", "-is:retweet", *([f"({langs})"] if len(self.languages) > 1 else
                                              [f"lang:{self.languages[0]}"] if self.languages else [])]
        return " ".join(parts)

    @model_validator(mode="after")
    def _fits_one_query(self) -> ListeningSearch:
        if self.terms() and len(self.x_query()) > MAX_QUERY:
            raise ValueError(f"search: the query built from keywords and competitors is {len(self.x_query())} "
                             f"characters; X accepts {MAX_QUERY}")
        names = [c.name for c in self.competitors]
        if len(names) != len(set(names)) or self.brand in names:
            raise ValueError("search: competitor names must be unique and differ from the brand's")
        return self

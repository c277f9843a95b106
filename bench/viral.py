"""``viral_spike``: 100,000 mentions of one post within an hour - the busiest DynamoDB key's
writes per second.

Which keys a mention writes is not assumed: generated X replies to one post (each from a new
author) go through the real pipeline (webhook, processor, dispatchers, case stream, CRM sync)
and the hooks record every item each write touched. A key's share is its writes divided by the
mentions; at the spike's peak it takes that share of the peak rate of mentions. The hour is a
viral burst decaying exponentially with a ten-minute time constant (most of a post's replies come
in its first minutes), normalised to 100,000 mentions.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench import traffic
from bench.embedded import Embedded
from bench.pipeline import Pipeline

MENTIONS = 100_000
HOUR_S = 3600.0
DECAY_S = 600.0
SAMPLE = 60
POST_ID = "1850000000000000042"


def peak_rate(mentions: int = MENTIONS, hour_s: float = HOUR_S, decay_s: float = DECAY_S) -> float:
    """Mentions per second at the start of an exponentially decaying burst of ``mentions`` in ``hour_s``."""
    return mentions / (decay_s * (1 - math.exp(-hour_s / decay_s)))


def measure(emb: Embedded, sample: int = SAMPLE) -> dict[str, Any]:
    pipeline = Pipeline(emb)
    emb.recorder.take()
    pipeline.run([traffic.mention_of_post(n, POST_ID) for n in range(sample)], endpoint="x")
    usages = emb.recorder.take()
    logical = {name: logical_id for logical_id, name in emb.stack.provisioned.names.items()}
    writes: Counter[str] = Counter()
    for usage in usages.values():
        writes.update(f"{logical.get(table, table)}:{pk}|{sk}" for table, pk, sk in usage.written_keys)
    peak = peak_rate()
    hottest = writes.most_common(5)
    top_share = hottest[0][1] / sample if hottest else 0.0
    return {
        "max_writes_per_s_per_key": round(top_share * peak, 1),
        "hottest_keys": [{"key": key, "writes_per_mention": round(n / sample, 3),
                          "writes_per_s_at_peak": round(n / sample * peak, 1)} for key, n in hottest],
        "peak_mentions_per_s": round(peak, 1),
        "uniform_mentions_per_s": round(MENTIONS / HOUR_S, 1),
        "sampled_mentions": sample,
        "webhook_statuses_not_200": sum(1 for s in pipeline.statuses if s != 200),
    }

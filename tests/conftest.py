"""Every tier: the Powertools environment a Lambda has before it imports our code.

Set here, at collection, because the shared Logger/Metrics/Tracer (socialcare.observability)
read it when first imported - as they do in a Lambda, where the template's Globals set it.
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "socialcare")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SocialCare")

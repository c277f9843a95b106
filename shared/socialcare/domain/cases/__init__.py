"""Cases, split by concern: ``threading`` (an interaction joins its case), ``incidents`` (a flood
of mentions becomes one case), ``actions`` (what agents and the CRM do), ``reads``, ``merge``
(the cases of two merged customers), ``sla_monitor`` and ``ids``."""

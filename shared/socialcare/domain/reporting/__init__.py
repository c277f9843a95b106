"""The stakeholder report (docs/reports.md): facts counted from the tables' streams into day
counters (``facts``, ``aggregator``), and the report drawn from those counters (``model``,
``sections``, ``charts``, ``page``, ``report``)."""

"""Pure data: the canonical interaction, cases, customers, work items, triage results and the
CRM's wire formats. Nothing here performs I/O or imports another socialcare module but these
models themselves and ``socialcare.errors``."""

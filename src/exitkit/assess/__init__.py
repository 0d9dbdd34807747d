"""``exitkit assess``: the exit readiness of a whole estate, and its exit plan.

Rooms: the assessment model (``model.py``); readers of the source account (bucket
settings, bucket sizes, registry images, managed services) and of a Terraform/OpenTofu
state file; the rules that judge each asset (``rules.py``); drill evidence from the ledger
(``coverage.py``); projections of time and cost (``projection.py``); the whole run
(``run.py``); and the exit plan's renderings (``plan.py``).
"""

"""Hypothesis profiles: `ci` (deterministic, quick) and `thorough` (many examples, local).

Choose with `python -m pytest --hypothesis-profile=ci|dev|thorough`; `dev` is the default.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=20, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("dev")

import os

from hypothesis import settings

# CI runs on 2 cores: keep property tests thorough but bounded; no flaky deadlines.
settings.register_profile("ci", deadline=None, max_examples=150)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

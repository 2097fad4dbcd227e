"""Scenarios: organisations plus parameters; who gains and who loses coverage; next-best sites.

One module per topic, all pure analyses over coverage results (no output files; the
``cnmap compare`` command's file work is :func:`cnmap.workflows.compare_files`):

- :mod:`cnmap.scenarios.scenario` — :class:`Scenario`, a frozen value object (organisations,
  time limits, walking speed or persona, residents, snapping limit, type filter, opening-hours
  window), also read from a TOML or YAML file (:meth:`Scenario.from_file`, the configuration
  schema ``cnmap run`` shares); :meth:`Scenario.run` computes its
  :class:`cnmap.coverage.CoverageResult`. :mod:`cnmap.scenarios.sources` reads its
  organisations.
- :mod:`cnmap.scenarios.compare` — :func:`compare`: scenario B against scenario A, population
  gained, lost and net change computed per residential point and then summed (so gains and
  losses inside one LSOA are both visible), the change in mean walking time, by LSOA, ward and
  IMD decile, and an equity summary (:func:`concentration_index` of coverage over deprivation
  rank). ``compare(a, a)`` is exactly zero.
- :mod:`cnmap.scenarios.sites` — :func:`maximal_coverage`, the pure solver on a reach matrix
  (greedy, then swaps), and :func:`suggest_sites`, its adapter for a coverage result and
  candidate venues, returning a :class:`SiteSuggestion`.

See ``docs/scenarios.md`` for the file format, every column and the formulae.
"""

from __future__ import annotations

from cnmap.scenarios.compare import Comparison, compare, concentration_index
from cnmap.scenarios.scenario import Scenario
from cnmap.scenarios.sites import (
    SiteParams,
    SiteSelection,
    SiteSuggestion,
    maximal_coverage,
    suggest_sites,
    target_weights,
)

__all__ = [
    "Scenario",
    "Comparison",
    "compare",
    "concentration_index",
    "SiteParams",
    "SiteSelection",
    "SiteSuggestion",
    "maximal_coverage",
    "suggest_sites",
    "target_weights",
]

"""Walking networks from OpenStreetMap, snapping, shortest paths and catchments, on arrays.

Read or build a network::

    net = read_walk_network("birmingham_walk_osm_2021-08.gpkg")   # .gpkg/.graphml/.osm/.osm.pbf
    net = walk_network_from_polygon(boundary)                        # online, osmnx "walk"
    net = walk_network_for_district(area.boundary, source="county.osm.pbf")  # + 2 km, cached

Check that a network covers the residents before trusting it::

    check_snap_coverage(snap_points(net, residents), residents["weight"])  # warn 1%, refuse 10%

Query it (distances in metres; speed is always explicit)::

    d = distance_to_nearest(net, organisations, cutoff_m=metres_for_minutes(15, 4.8))
    people_d = distance_at_points(net, d, people, sources=organisations)
    n = count_within(net, organisations, cutoff_m=1200, groups="type", points=people)
    polys = catchments(net, organisations, cutoff_m=1200, per_source=True)

See ``docs/network.md`` for the data, the cleaning, the algorithms and their caveats.
"""

from __future__ import annotations

from cnmap.network.build import (
    NetworkExtent,
    NetworkReport,
    WalkNetwork,
    walk_network_from_gdfs,
    walk_network_from_graph,
)
from cnmap.network.catchments import catchments, reached_edges
from cnmap.network.cover import REFUSE_ABOVE, WARN_ABOVE, SnapCoverage, check_snap_coverage
from cnmap.network.district import (
    DEFAULT_BUFFER_M,
    DEFAULT_WALK_LIMIT_M,
    OSM_ATTRIBUTION,
    district_boundary,
    min_buffer_m,
    read_district_boundary,
    share_near_network,
    walk_network_for_district,
)
from cnmap.network.io import read_walk_network, walk_graph_from_xml, walk_network_from_polygon
from cnmap.network.paths import (
    LimitCounts,
    count_within,
    count_within_limits,
    distance_at_points,
    distance_to_nearest,
    nearest_by_group,
)
from cnmap.network.snap import DEFAULT_MAX_SNAP_M, SnapResult, snap_points
from cnmap.network.speeds import (
    DEFAULT_SPEED_KMH,
    WALKING_SPEEDS,
    metres_for_minutes,
    minutes_for_metres,
    walking_speed,
)

__all__ = [
    "WalkNetwork",
    "NetworkReport",
    "NetworkExtent",
    "read_walk_network",
    "walk_network_for_district",
    "district_boundary",
    "read_district_boundary",
    "min_buffer_m",
    "share_near_network",
    "DEFAULT_BUFFER_M",
    "DEFAULT_WALK_LIMIT_M",
    "OSM_ATTRIBUTION",
    "check_snap_coverage",
    "SnapCoverage",
    "WARN_ABOVE",
    "REFUSE_ABOVE",
    "walk_network_from_graph",
    "walk_network_from_gdfs",
    "walk_network_from_polygon",
    "walk_graph_from_xml",
    "SnapResult",
    "snap_points",
    "DEFAULT_MAX_SNAP_M",
    "distance_to_nearest",
    "distance_at_points",
    "count_within",
    "count_within_limits",
    "LimitCounts",
    "nearest_by_group",
    "catchments",
    "reached_edges",
    "WALKING_SPEEDS",
    "DEFAULT_SPEED_KMH",
    "metres_for_minutes",
    "minutes_for_metres",
    "walking_speed",
]

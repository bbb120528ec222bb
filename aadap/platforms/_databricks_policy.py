"""A Databricks cluster policy as a complete new-cluster spec, or a clear refusal.

runs/submit needs ``spark_version``, a node type (or instance pool) and a size
in ``new_cluster``; a spec with only ``policy_id`` is reported to be rejected.
So they are read from the policy's definition (the cluster policy definition
language: ``{"attr": {"type": "fixed", "value": …}}``, or any rule with a
``defaultValue``) and ``apply_policy_default_values`` fills in the rest.
"""

from __future__ import annotations

import json
from typing import Any

from databricks.sdk.service import compute

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidConfigurationError


def cluster_spec(policy_id: str, definition: str | None) -> compute.ClusterSpec:
    """The new-cluster spec the policy ``policy_id`` (with this ``definition``) defines."""
    details = {
        "field": "cluster_policy_id",
        "value": policy_id,
        "platform": PlatformKind.DATABRICKS.value,
    }
    try:
        rules = json.loads(definition or "{}")
    except ValueError as exc:
        raise InvalidConfigurationError(
            f"databricks cluster_policy_id={policy_id!r} has a definition that is not JSON",
            details=details,
        ) from exc

    def value(attr: str) -> Any:
        rule = rules.get(attr)
        if not isinstance(rule, dict):
            return None
        return rule.get("value") if rule.get("type") == "fixed" else rule.get("defaultValue")

    spark_version, node_type = value("spark_version"), value("node_type_id")
    pool, workers = value("instance_pool_id"), value("num_workers")
    low, high = value("autoscale.min_workers"), value("autoscale.max_workers")
    missing = [
        name
        for name, ok in (
            ("spark_version", spark_version),
            ("node_type_id or instance_pool_id", node_type or pool),
            (
                "num_workers or autoscale.min_workers/max_workers",
                workers is not None or (low is not None and high is not None),
            ),
        )
        if not ok
    ]
    if missing:
        raise InvalidConfigurationError(
            f"databricks cluster_policy_id={policy_id!r} does not define a cluster: it fixes "
            f"no value or default for {', '.join(missing)}; use a policy that does, or set "
            "cluster_id (or neither, for serverless jobs compute)",
            details={**details, "missing": missing},
        )
    return compute.ClusterSpec(
        policy_id=policy_id,
        apply_policy_default_values=True,
        spark_version=str(spark_version),
        node_type_id=str(node_type) if node_type else None,
        instance_pool_id=str(pool) if pool else None,
        num_workers=int(workers) if workers is not None else None,
        autoscale=compute.AutoScale(min_workers=int(low), max_workers=int(high))
        if workers is None
        else None,
    )


__all__ = ["cluster_spec"]

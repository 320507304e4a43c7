"""Cross-account links: what suggests that two accounts have one operator.

Four kinds, each a fact about rows (thresholds in :mod:`core.traffic.thresholds`):

* ``payment``: the accounts paid with the same payment fingerprint;
* ``infrastructure``: they sent requests through the same IP /24 with the same user agent;
* ``template``: they both sent at least ``link_min_shared_templates`` of the same
  normalised skeletons, each at least ``link_template_repeat`` times;
* ``timing``: their active 10-minute buckets overlap (Jaccard >= ``sync_jaccard``), found
  with MinHash LSH (datasketch) among accounts with enough buckets and checked exactly.

A group shared by more than ``link_max_group`` accounts (a carrier NAT, a very common
prompt) is too common to point at one operator and makes no links. The row-level
grouping is Ibis (so it runs on either engine); pairing and LSH run here on the grouped,
much smaller tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from core.traffic.thresholds import Thresholds


@dataclass(frozen=True)
class Link:
    """Two accounts (sorted) and why they are linked."""

    a: str
    b: str
    kind: str
    detail: str


def link_expressions(p: ir.Table, th: Thresholds) -> dict[str, ir.Table]:
    """The grouped tables the links are built from (one Ibis expression per link kind)."""
    skel = p.group_by(["account_id", "skeleton"]).aggregate(c=p.count())
    skel = skel.filter(skel.c >= th.link_template_repeat).select("account_id", "skeleton")
    infra = p.filter((p.ip_prefix != "") & p.user_agent.notnull())
    infra = infra.group_by(["account_id", "ip_prefix", "user_agent"]).aggregate(c=infra.count())
    infra = infra.filter(infra.c >= th.link_min_infra_requests).select(
        "account_id", "ip_prefix", "user_agent"
    )
    pay = (
        p.filter(p.payment_fingerprint.notnull() & (p.payment_fingerprint != ""))
        .select("account_id", "payment_fingerprint")
        .distinct()
    )
    buckets = p.select("account_id", bucket=p.epoch // th.sync_bucket_seconds).distinct()
    return {"payment": pay, "infrastructure": infra, "template": skel, "timing": buckets}


def _groups(frame: pd.DataFrame, keys: list[str], member: str) -> dict[Any, set[Any]]:
    """``member`` values by ``keys`` (plain dicts: far faster than iterating a groupby)."""
    out: dict[Any, set[Any]] = defaultdict(set)
    columns = [frame[k].tolist() for k in keys]
    for key, value in zip(zip(*columns, strict=True), frame[member].tolist(), strict=True):
        out[key if len(keys) > 1 else key[0]].add(value)
    return out


def _group_links(frame: pd.DataFrame, keys: list[str], kind: str, th: Thresholds) -> Iterable[Link]:
    groups = _groups(frame, keys, "account_id")
    for key in sorted(groups):
        accounts = sorted(str(a) for a in groups[key])
        if len(accounts) < 2 or len(accounts) > th.link_max_group:
            continue
        label = " + ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        if kind == "infrastructure":
            label = label.replace(" + ", "/24 + agent ", 1)
        for other in accounts[1:]:  # a star: enough for the groups, and traceable
            yield Link(accounts[0], other, kind, label)


def _template_links(frame: pd.DataFrame, th: Thresholds) -> Iterable[Link]:
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    groups = _groups(frame, ["skeleton"], "account_id")
    for skeleton in sorted(groups):
        accounts = sorted(str(a) for a in groups[skeleton])
        if len(accounts) > th.link_max_group:
            continue
        for a, b in combinations(accounts, 2):
            shared[(a, b)].append(str(skeleton))
    for (a, b), skeletons in sorted(shared.items()):
        if len(skeletons) >= th.link_min_shared_templates:
            yield Link(
                a, b, "template", f"{len(skeletons)} shared templates, e.g. {skeletons[0]!r}"
            )


def _timing_links(frame: pd.DataFrame, th: Thresholds) -> Iterable[Link]:
    from datasketch import MinHash, MinHashLSH

    groups = _groups(frame, ["account_id"], "bucket")
    sets = {
        str(a): {int(b) for b in buckets}
        for a, buckets in sorted(groups.items())
        if len(buckets) >= th.sync_min_buckets
    }
    if len(sets) < 2:
        return
    lsh = MinHashLSH(threshold=th.sync_jaccard, num_perm=th.sync_num_perm)
    base = MinHash(num_perm=th.sync_num_perm, seed=1)
    for account, buckets in sets.items():
        mh = MinHash(
            num_perm=th.sync_num_perm, seed=1, permutations=base.permutations, scheme=base.scheme
        )
        mh.update_batch([str(b).encode() for b in sorted(buckets)])
        for other in lsh.query(mh):
            a, b = sorted((account, str(other)))
            jaccard = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
            if jaccard >= th.sync_jaccard:
                yield Link(a, b, "timing", f"Jaccard {jaccard:.2f} of active 10-minute buckets")
        lsh.insert(account, mh)


def build_links(frames: dict[str, pd.DataFrame], th: Thresholds) -> list[Link]:
    """Every link, from the grouped tables of :func:`link_expressions` (computed)."""
    links: list[Link] = []
    links += _group_links(frames["payment"], ["payment_fingerprint"], "payment", th)
    links += _group_links(
        frames["infrastructure"], ["ip_prefix", "user_agent"], "infrastructure", th
    )
    links += _template_links(frames["template"], th)
    links += _timing_links(frames["timing"], th)
    return links

"""Family links: supporters (children, spouses, others) who may act for a parent (POLICY.md R9, R14).

A link is active at once when the agency registry lists the supporter among the parent's
`supporters`; otherwise it waits for the parent's consent from their own mini-program. Either side
may remove it; removed links stay as history, with who removed them (`removed_by`). A supporter the
parent removed is kept out: their next links to that parent wait for the parent's consent even when
the registry lists them, until the parent approves one (API.md, `DELETE /family/links`). Access
checks (`access.relation_to`) read the link status on every request, so approval and removal take
effect at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from integrations.agency import RegistryRecord
from miniapp_api.core import ratelimit
from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from miniapp_api.identity import residents
from miniapp_api.identity.access import not_found
from miniapp_api.identity.service import confirm_identity, parse_id_number
from models import FamilyLink, LinkSide, LinkStatus, Order, OrderStatus, Payer, Relation, Resident, WeChatUser, db

MAX_LINKS = 10  # live links one person may hold as supporter
ATTEMPTS_PER_USER = 10  # link attempts (each an identity check) per user ...
ATTEMPTS_PER_ADDRESS = 30  # ... and per client address ...
ATTEMPTS_WINDOW = 600  # ... in 10 minutes


@dataclass(frozen=True)
class LinkView:
    """A link as its two people see it, with the years of the parent's contributions the supporter paid."""

    link: FamilyLink
    paid_years: list[int] = field(default_factory=list)


def create_link(
    user: WeChatUser, parent_id_number: str, parent_name: str, relation: Relation, client_address: str | None = None
) -> FamilyLink:
    """Link the verified `user` (as supporter) to the parent named by ID number and name (flushed).

    Each attempt is an identity check on someone else's ID number: limited per user and, when the
    request's `client_address` is given, per address (many accounts from one place)."""
    if client_address is not None:
        ratelimit.limit(f"family-link:addr:{client_address}", ATTEMPTS_PER_ADDRESS, ATTEMPTS_WINDOW)
    ratelimit.limit(f"family-link:user:{user.id}", ATTEMPTS_PER_USER, ATTEMPTS_WINDOW)
    number = parse_id_number(parent_id_number, "parent_id_number")
    own_number = residents.id_number_of(user.resident)
    if number == own_number:
        raise ApiError(422, "self_link", "You cannot link to yourself.")
    record = confirm_identity(number, parent_name.strip())
    return _insert_retrying(user.resident_id, own_number, record, relation)


def _insert_retrying(supporter_id: int, own_number: str, record: RegistryRecord, relation: Relation) -> FamilyLink:
    """Insert the link; a simultaneous request may have just created it (or the same new parent row)."""
    for _attempt in range(2):
        try:
            return _insert(supporter_id, own_number, record, relation)
        except IntegrityError:
            db.session.rollback()  # then look again: the winner's link is now visible to `_check_room`
    raise _link_exists()


def _insert(supporter_id: int, own_number: str, record: RegistryRecord, relation: Relation) -> FamilyLink:
    parent = residents.sync_from_registry(record)
    _check_room(supporter_id, parent)
    listed = own_number in record.supporters and not kept_out(supporter_id, parent.id)
    now = clock().now()
    link = FamilyLink(
        supporter_id=supporter_id,
        parent_id=parent.id,
        relation=relation,
        status=LinkStatus.ACTIVE if listed else LinkStatus.PENDING,
        via_registry=listed,
        created_at=now,
        approved_at=now if listed else None,
    )
    db.session.add(link)
    db.session.flush()
    return link


def _check_room(supporter_id: int, parent: Resident) -> None:
    if live_link(supporter_id, parent.id) is not None:
        raise _link_exists()
    if count_live_links(supporter_id) >= MAX_LINKS:
        raise ApiError(409, "too_many_links", f"at most {MAX_LINKS} live links as supporter", max_links=MAX_LINKS)


def _link_exists() -> ApiError:
    return ApiError(409, "link_exists", "You are already linked to this person (or waiting for their consent).")


def kept_out(supporter_id: int, parent_id: int) -> bool:
    """Whether the parent removed this supporter and has not approved a link of theirs since.

    The pair's links follow one another (one live link at a time), so "since" is a higher id. A
    removal by the supporter does not lift the bar (withdrawing the pending request and asking again
    must not turn it into a registry link); only the parent's approval does."""
    pair = (FamilyLink.supporter_id == supporter_id, FamilyLink.parent_id == parent_id)
    removed = db.session.scalar(
        db.select(db.func.max(FamilyLink.id)).where(
            *pair, FamilyLink.status == LinkStatus.REMOVED, FamilyLink.removed_by == LinkSide.PARENT
        )
    )
    if removed is None:
        return False
    approved_since = db.select(FamilyLink.id).where(
        *pair, FamilyLink.id > removed, FamilyLink.via_registry.is_(False), FamilyLink.approved_at.is_not(None)
    )
    return db.session.execute(approved_since.limit(1)).first() is None


def live_link(supporter_id: int, parent_id: int) -> FamilyLink | None:
    return db.session.scalar(
        db.select(FamilyLink).where(
            FamilyLink.supporter_id == supporter_id,
            FamilyLink.parent_id == parent_id,
            FamilyLink.status.in_(LinkStatus.live()),
        )
    )


def count_live_links(supporter_id: int) -> int:
    return db.session.scalar(
        db.select(db.func.count(FamilyLink.id)).where(
            FamilyLink.supporter_id == supporter_id, FamilyLink.status.in_(LinkStatus.live())
        )
    )


def approve(user: WeChatUser, link_id: str) -> FamilyLink:
    """The parent consents to a pending link (approving an active one again is harmless)."""
    link = _find_live(link_id)
    if link is None or link.parent_id != user.resident_id:
        raise _no_such_link()
    if link.status == LinkStatus.PENDING:
        link.status, link.approved_at = LinkStatus.ACTIVE, clock().now()
    return link


def remove(user: WeChatUser, link_id: str) -> None:
    """Either side ends the link; the supporter's access ends with it. Removed by the parent, the
    supporter's next link to them waits for their consent (`kept_out`)."""
    link = _find_live(link_id)
    if link is None or user.resident_id not in (link.parent_id, link.supporter_id):
        raise _no_such_link()
    side = LinkSide.PARENT if user.resident_id == link.parent_id else LinkSide.SUPPORTER
    link.status, link.removed_at, link.removed_by = LinkStatus.REMOVED, clock().now(), side


def _find_live(link_id: str) -> FamilyLink | None:
    return db.session.scalar(
        db.select(FamilyLink).where(FamilyLink.public_id == link_id, FamilyLink.status.in_(LinkStatus.live()))
    )


def _no_such_link() -> ApiError:
    # Only the two people themselves: a supporter acting for the parent is a stranger here.
    return not_found("No such family link.")


def links_of(resident: Resident) -> dict[str, list[FamilyLink]]:
    """The resident's live links, as supporter and as parent, oldest first."""
    rows = db.session.scalars(
        db.select(FamilyLink)
        .where(
            db.or_(FamilyLink.supporter_id == resident.id, FamilyLink.parent_id == resident.id),
            FamilyLink.status.in_(LinkStatus.live()),
        )
        .order_by(FamilyLink.id)
    ).all()
    return {
        "as_supporter": [link for link in rows if link.supporter_id == resident.id],
        "as_parent": [link for link in rows if link.parent_id == resident.id],
    }


def paid_years_by_supporter(links: list[FamilyLink]) -> dict[tuple[int, int], list[int]]:
    """Years of paid orders for each link's parent that the link's supporter paid, by (parent, supporter)."""
    parent_ids = {link.parent_id for link in links}
    if not parent_ids:
        return {}
    rows = db.session.execute(
        db.select(Order.resident_id, WeChatUser.resident_id, Order.year)
        .join(WeChatUser, WeChatUser.id == Order.payer_user_id)
        .where(Order.resident_id.in_(parent_ids), Order.status == OrderStatus.PAID, Order.payer == Payer.SUPPORTER)
    ).all()
    years: dict[tuple[int, int], set[int]] = defaultdict(set)
    for parent_id, supporter_id, year in rows:
        years[(parent_id, supporter_id)].add(year)
    return {pair: sorted(found) for pair, found in years.items()}


def with_paid_years(links: list[FamilyLink]) -> list[LinkView]:
    """The links with the years each one's supporter paid for its parent, in one query."""
    paid = paid_years_by_supporter(links)
    return [LinkView(link, paid.get((link.parent_id, link.supporter_id), [])) for link in links]

"""What the facade finds: words, phrases, prefixes, accents, every filter, pages and order."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from django.db import connection
from tests.search.conftest import World

from onfile.conversations.actions import do_assign
from onfile.search import SearchError, SearchFilters, SearchPage, facade, search

pytestmark = pytest.mark.django_db


def bodies(page: SearchPage) -> list[str]:
    from onfile.conversations.models import Message

    by_id = dict(Message.objects.filter(pk__in=[h.message_id for h in page.hits]).values_list("pk", "body"))
    return [by_id[h.message_id] for h in page.hits]


def found(world: World, query: str, user: Any = None, **filters: Any) -> list[str]:
    return sorted(bodies(search(user or world.compliance, query, SearchFilters(**filters), per_page=100)))


def test_all_words_must_appear_in_any_order_and_case(world: World) -> None:
    assert found(world, "LEASE clause") == ["Hello, I have a question about the lease\nit is about clause 4"]
    assert found(world, "clause lease") == found(world, "LEASE clause")
    assert found(world, "lease nonsenseword") == []


def test_a_phrase_must_appear_as_written(world: World) -> None:
    assert found(world, '"rent review"') == ["Thanks, I will check the rent review clause"]
    assert found(world, '"review rent"') == []


def test_a_prefix_matches_the_start_of_words(world: World) -> None:
    assert found(world, "sign*") == ["I signed the lease extension yesterday",
                                     "IMG-20240113-WA0001.jpg (file attached)\nthe signed page",
                                     "Sure: send it over and I will review the signature page"]
    assert found(world, "signa*") == ["Sure: send it over and I will review the signature page"]


def test_accents_do_not_matter_either_way(world: World) -> None:
    assert found(world, "cafe muller zurich") == ["We met at the Café Müller in Zürich"]
    assert found(world, "CAFÉ") == ["We met at the Café Müller in Zürich"]
    assert found(world, "perez senor") == ["Also the resume of our new director, señor Pérez"]
    assert found(world, "résumé") == ["Also the resume of our new director, señor Pérez"]


def test_or_gives_either(world: World) -> None:
    assert found(world, "warehouse OR zurich") == ["The lease renewal for our warehouse is attached",
                                                   "We met at the Café Müller in Zürich"]


def test_numbers_and_amounts_are_words(world: World) -> None:
    assert found(world, "25,000 deposit") == ["The deposit of £25,000 is due on completion"]


def test_the_client_and_matter_filters(world: World) -> None:
    assert found(world, "lease", client=world.alice_id) == [
        "Hello, I have a question about the lease\nit is about clause 4"]
    assert found(world, "lease", matter=world.m2.pk) == ["The lease renewal for our warehouse is attached"]
    assert found(world, "lease", matter=world.m2.pk, client=world.alice_id) == []


def test_the_staff_filter_takes_assigned_conversations_and_messages_they_sent(world: World) -> None:
    everything_of_acme = ["Also the resume of our new director, señor Pérez",
                          "Noted: the settlement offer stands until Friday",
                          "Thanks, I will check the rent review clause",
                          "The lease renewal for our warehouse is attached"]
    assert found(world, "the", matter=world.m2.pk, staff=world.fee_earner.pk) == everything_of_acme
    do_assign(world.acme, world.admin.pk, world.admin.actor)
    # No longer assigned: only what they sent themselves (they are the custodian, "Bob Solicitor").
    assert found(world, "the", matter=world.m2.pk, staff=world.fee_earner.pk) == [
        "Noted: the settlement offer stands until Friday", "Thanks, I will check the rent review clause"]
    assert found(world, "the", matter=world.m2.pk, staff=world.admin.pk) == everything_of_acme
    assert found(world, "lease", staff=world.outsider.pk) == []
    with pytest.raises(SearchError, match="no staff member"):
        search(world.compliance, "lease", SearchFilters(staff=10**9))


def test_the_date_range_is_inclusive_and_days_are_whole(world: World) -> None:
    assert found(world, "lease", sent_from=date(2024, 2, 1)) == [
        "I signed the lease extension yesterday",
        "Minutes of the meeting about the lease are in the shared folder",
        "The lease renewal for our warehouse is attached"]
    assert found(world, "lease", sent_to=date(2024, 2, 1)) == [
        "Hello, I have a question about the lease\nit is about clause 4",
        "The lease renewal for our warehouse is attached"]
    assert found(world, "lease", sent_from=date(2024, 2, 1), sent_to=date(2024, 2, 1)) == [
        "The lease renewal for our warehouse is attached"]
    assert found(world, "lease", sent_from=datetime(2024, 2, 1, 10, 0, 1)) == [
        "I signed the lease extension yesterday",
        "Minutes of the meeting about the lease are in the shared folder"]
    with pytest.raises(SearchError, match="date range"):
        search(world.compliance, "lease", SearchFilters(sent_from=date(2024, 3, 1), sent_to=date(2024, 2, 1)))


def test_direction_type_and_attachment_filters(world: World) -> None:
    assert found(world, "clause", direction="out") == ["Thanks, I will check the rent review clause"]
    assert found(world, "clause", direction="in") == ["Hello, I have a question about the lease\nit is about clause 4"]
    assert found(world, "signed", type="image") == ["IMG-20240113-WA0001.jpg (file attached)\nthe signed page"]
    assert found(world, "signed", has_attachment=True) == ["IMG-20240113-WA0001.jpg (file attached)\nthe signed page"]
    assert found(world, "signed", has_attachment=False) == ["I signed the lease extension yesterday"]
    with pytest.raises(SearchError, match="direction"):
        search(world.compliance, "lease", SearchFilters(direction="sideways"))
    with pytest.raises(SearchError, match="type"):
        search(world.compliance, "lease", SearchFilters(type="x' OR 1=1 --"))


def test_filters_of_the_wrong_kind_are_search_errors(world: World) -> None:
    for bad in ({"client": "12"}, {"matter": 1.5}, {"staff": True}, {"firm_number": "x"}, {"sent_from": "2024-01-01"},
                {"sent_to": 20240101}, {"has_attachment": "yes"}):
        with pytest.raises(SearchError):
            search(world.compliance, "lease", SearchFilters(**bad))


def test_the_firm_number_filter(world: World) -> None:
    from onfile.conversations.actions import do_register_firm_number
    from onfile.conversations.models import Conversation

    number = do_register_firm_number("106540352242922", "+44 20 7946 0000", world.admin.actor)
    # Imported chats have no firm number; give one to the group chat (a projection row, as a test can).
    Conversation.objects.filter(pk=world.group.pk).update(firm_number=number)
    assert found(world, "lease", firm_number=number.pk) == [
        "I signed the lease extension yesterday", "Minutes of the meeting about the lease are in the shared folder"]


def test_hits_say_where_and_when(world: World) -> None:
    [hit] = search(world.compliance, "deposit").hits
    assert hit.conversation_id == world.lease.pk and hit.client_name == "Alice Smith"
    assert hit.matter_reference == "M-1" and hit.matter_id == world.m1.pk and hit.client_id == world.alice_id
    assert hit.direction == "out" and hit.type == "text" and hit.sender == "Bob Solicitor"
    assert hit.sent_at.isoformat() == "2024-01-16T08:30:00+00:00" and not hit.has_attachment
    assert hit.snippet_text == "The [[deposit]] of £25,000 is due on completion"


def test_pages_cover_every_hit_once_newest_first(world: World) -> None:
    everything = search(world.compliance, "the", per_page=100)
    assert everything.total == len(everything.hits) == 11 and everything.total_is_exact
    times = [h.sent_at for h in everything.hits]
    assert times == sorted(times, reverse=True)
    seen: list[int] = []
    for number in range(1, 5):
        page = search(world.compliance, "the", page=number, per_page=3)
        assert page.total == 11 and page.has_next == (number < 4) and page.has_previous == (number > 1)
        assert page.first_index == (number - 1) * 3 + 1
        seen += [h.message_id for h in page.hits]
    assert seen == [h.message_id for h in everything.hits]
    assert search(world.compliance, "the", page=5, per_page=3).hits == []


def test_oldest_first_and_relevance_give_the_same_hits(world: World) -> None:
    newest = [h.message_id for h in search(world.compliance, "lease").hits]
    oldest = [h.message_id for h in search(world.compliance, "lease", order="oldest").hits]
    relevance = [h.message_id for h in search(world.compliance, "lease", order="relevance").hits]
    assert oldest == newest[::-1] and sorted(relevance) == sorted(newest)


def test_the_count_stops_at_the_limit_and_says_so(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from onfile.search.engines import SqliteEngine

    monkeypatch.setattr(facade, "COUNT_LIMIT", 5)
    monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 0.0)  # SQLite counts alongside the page otherwise
    page = search(world.compliance, "the", SearchFilters(direction="in"), per_page=2)
    assert page.total == 5 and not page.total_is_exact and page.has_next
    small = search(world.fee_earner, "lease", per_page=1)
    assert small.total == 2 and small.total_is_exact


def test_a_fee_earners_total_is_exact_when_it_is_counted_with_the_page(world: World,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facade, "COUNT_LIMIT", 5)
    everything = search(world.fee_earner, "the", per_page=100)
    page = search(world.fee_earner, "the", per_page=2)
    assert page.has_next and len(everything.hits) == 9
    if connection.vendor == "sqlite":
        assert page.total == 9 and page.total_is_exact
    else:
        assert page.total == 5 and not page.total_is_exact


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the dense-match plan is SQLite's")
def test_the_dense_plan_finds_the_same_as_the_sparse_one(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from onfile.search.engines import SqliteEngine

    queries = ["the", "lease", '"the lease"', "sign*"]
    narrower = [SearchFilters(), SearchFilters(sent_from=date(2024, 1, 14)), SearchFilters(direction="in")]

    def run(order: str) -> list[list[int]]:
        return [[h.message_id for h in search(world.compliance, q, f, order=order, per_page=4).hits]
                for q in queries for f in narrower]

    for order in ("newest", "oldest"):
        monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 1.0)
        sparse = run(order)
        monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 0.0)
        assert run(order) == sparse and any(sparse)


def test_bad_paging_is_a_search_error(world: World) -> None:
    bad_ones: list[dict[str, Any]] = [{"page": 0}, {"per_page": 0}, {"per_page": 101}, {"order": "random"},
                                      {"page": 10_000, "per_page": 100}]
    for bad in bad_ones:
        with pytest.raises(SearchError):
            search(world.compliance, "lease", **bad)


ODD = ['"', "AND OR", "*", "NEAR(", "'", '"lease', "(", "lease)", "lease*clause", "^", "col:x", "\\", "%", "_",
       "'; DROP TABLE conversations_message; --", "lease NOT", 'NEAR("a" "b")', "a OR", "{x y}", "x:*", "?", "%s",
       "%(x)s", "\u202e", "🙂", "lease\x00"]


def test_odd_input_never_reaches_the_engine_as_syntax(world: World) -> None:
    for garbage in ODD:
        try:
            page = search(world.compliance, garbage)
        except SearchError as exc:
            assert str(exc), garbage
            continue
        assert isinstance(page, SearchPage), garbage
    assert search(world.compliance, "lease)").total == 4


def test_without_counting_the_page_says_so_and_count_matches_counts_apart(world: World,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from onfile.ledger.models import Entry
    from onfile.search.engines import SqliteEngine

    monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 1.0)
    everything = search(world.fee_earner, "the", per_page=100)
    quick = search(world.fee_earner, "the", per_page=2, count=False)
    if connection.vendor == "sqlite":  # SQLite counts in the page's own statement: free, so always counted
        assert quick.has_next and quick.counted and quick.total == len(everything.hits) and quick.total_is_exact
    else:
        assert quick.has_next and not quick.counted and quick.total == 2 and not quick.total_is_exact
    assert [h.message_id for h in quick.hits] == [h.message_id for h in everything.hits[:2]]
    last = search(world.fee_earner, "the", per_page=100, count=False)  # the last page needs no count
    assert last.counted and last.total == len(everything.hits) and last.total_is_exact
    before = Entry.objects.filter(kind="access.search").count()
    assert facade.count_matches(world.fee_earner, "the") == (len(everything.hits), True)
    assert Entry.objects.filter(kind="access.search").count() == before + 1  # a count is a search: ledgered
    monkeypatch.setattr(facade, "COUNT_LIMIT", 3)
    assert facade.count_matches(world.fee_earner, "the") == (3, False)
    with pytest.raises(SearchError):
        facade.count_matches(world.fee_earner, "   ")


def test_listed_and_sub_selected_conversations_find_the_same(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A few visible conversations are written out in the query, many are sub-selected: same hits."""
    listed = [h.message_id for h in search(world.fee_earner, "the", per_page=100).hits]
    by_client = [h.message_id for h in search(world.fee_earner, "the", SearchFilters(client=world.alice_id),
                                              per_page=100).hits]
    monkeypatch.setattr(facade, "LISTED_CONVERSATIONS", 0)
    assert [h.message_id for h in search(world.fee_earner, "the", per_page=100).hits] == listed
    assert [h.message_id for h in search(world.fee_earner, "the", SearchFilters(client=world.alice_id),
                                         per_page=100).hits] == by_client
    assert listed and facade.count_matches(world.fee_earner, "the")[0] == len(listed)

"""The emulator's QBO query parser and evaluator: grammar, escaping, errors, filtering."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbo_sandbox.query import Condition, OrderKey, Query, QueryError, parse, quote_string
from qbo_sandbox.query_eval import field_value, matches, sort_objects


def test_select_all_with_every_clause_parses_into_its_parts():
    query = parse(
        "SELECT * FROM Customer WHERE Active = true AND Balance >= 10.50 "
        "ORDERBY DisplayName DESC STARTPOSITION 11 MAXRESULTS 10"
    )
    assert query == Query(
        entity="Customer",
        count=False,
        fields=("*",),
        where=(
            Condition("Active", "=", True),
            Condition("Balance", ">=", Decimal("10.50")),
        ),
        order_by=(OrderKey("DisplayName", descending=True),),
        start_position=11,
        max_results=10,
    )


def test_keywords_are_case_insensitive():
    query = parse("select count(*) from invoice where docnumber in ('1001', '1002')")
    assert query.count is True
    assert query.entity == "invoice"
    assert query.where == (Condition("docnumber", "IN", ("1001", "1002")),)


def test_dotted_field_and_like_and_comparison_operators():
    query = parse(
        "select * from Invoice where MetaData.LastUpdatedTime > '2026-01-01T00:00:00-08:00' "
        "and CustomerRef = '5' and DocNumber LIKE '10%' and TotalAmt <= 100 and Balance < 5"
    )
    assert [(c.field, c.op) for c in query.where] == [
        ("MetaData.LastUpdatedTime", ">"),
        ("CustomerRef", "="),
        ("DocNumber", "LIKE"),
        ("TotalAmt", "<="),
        ("Balance", "<"),
    ]


def test_python_quickbooks_forms_are_accepted():
    # Item.all() sends a projection and two-word ORDER BY; where() leaves double spaces.
    assert parse("SELECT *, Sku FROM Item ORDER BY Name STARTPOSITION 1 MAXRESULTS 100").fields == (
        "*",
        "Sku",
    )
    assert parse("SELECT * FROM Customer  STARTPOSITION 5 MAXRESULTS 2").start_position == 5


def test_escaped_apostrophe_in_a_name_is_one_string():
    query = parse("select * from Customer where DisplayName = 'O\\'Brien'")
    assert query.where[0].value == "O'Brien"


def test_unknown_backslash_escape_keeps_the_backslash():
    query = parse("select * from Customer where DisplayName = 'C:\\dir'")
    assert query.where[0].value == "C:\\dir"


def test_accented_names_survive():
    query = parse("select * from Customer where DisplayName = 'Zoë Müller-Peña'")
    assert query.where[0].value == "Zoë Müller-Peña"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("select * from", "column 14"),
        ("select * Customer", "column 10"),
        ("select * from Customer where", "column 29"),
        ("select * from Customer where Name = 'abc", "column 37"),
        ("select * from Customer where Name == 'a'", "column 36"),
        ("select * from Customer where Name = 'a' or Id = '1'", "column 41"),
        ("select * from Customer maxresults 0", "column 35"),
        ("select * from Customer where Id in ('1',", "column 41"),
        ("select * from Customer orderby", "column 31"),
        ("delete from Customer", "column 1"),
        ("select * from Customer where Name = 'a' ; drop", "column 41"),
        ("select * from Customer where Name ! 'a'", "column 35"),
    ],
)
def test_malformed_query_raises_error_saying_where(text, where):
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert where in raised.value.detail


def test_error_on_second_line_reports_that_line():
    with pytest.raises(QueryError) as raised:
        parse("select * from Customer\nwhere = 'x'")
    assert "line 2, column 7" in raised.value.detail


@given(st.text())
def test_any_string_round_trips_through_quote_string(value):
    query = parse(f"select * from Customer where DisplayName = {quote_string(value)}")
    assert query.where == (Condition("DisplayName", "=", value),)


@given(st.text(alphabet=st.sampled_from("'\\ ab%"), max_size=30))
def test_quotes_and_backslashes_round_trip_in_like_and_in(value):
    quoted = quote_string(value)
    query = parse(
        f"select * from Customer where DisplayName LIKE {quoted} and Id IN ({quoted}, '2')"
    )
    assert query.where[0].value == value
    assert query.where[1].value == (value, "2")


@given(st.text(max_size=60))
def test_arbitrary_text_either_parses_or_raises_query_error(text):
    try:
        result = parse(text)
    except QueryError as error:
        assert "line" in error.detail
    else:
        assert isinstance(result, Query)


@given(
    entity=st.sampled_from(["Customer", "Invoice", "Item"]),
    field=st.sampled_from(["DisplayName", "MetaData.LastUpdatedTime", "Id"]),
    op=st.sampled_from(["=", "<", ">", "<=", ">="]),
    value=st.one_of(st.text(max_size=10), st.integers(min_value=0, max_value=10**6), st.booleans()),
    start=st.integers(min_value=1, max_value=5000),
    limit=st.integers(min_value=1, max_value=1000),
    descending=st.booleans(),
)
def test_generated_queries_parse_back_to_their_parts(
    entity, field, op, value, start, limit, descending
):
    literal = quote_string(value) if isinstance(value, str) else str(value).lower()
    text = (
        f"SELECT * FROM {entity} WHERE {field} {op} {literal} "
        f"ORDERBY {field} {'DESC' if descending else 'ASC'} STARTPOSITION {start} MAXRESULTS {limit}"
    )
    query = parse(text)
    assert query.entity == entity
    assert query.where == (Condition(field, op, value),)
    assert query.order_by == (OrderKey(field, descending),)
    assert (query.start_position, query.max_results) == (start, limit)


@pytest.mark.parametrize(
    "prefix",
    [
        "SELECT",
        "SELECT *",
        "SELECT * FROM",
        "SELECT * FROM Customer WHERE",
        "SELECT * FROM Customer WHERE DisplayName",
        "SELECT * FROM Customer WHERE DisplayName =",
        "SELECT * FROM Customer WHERE DisplayName = 'An",
        "SELECT * FROM Customer WHERE DisplayName = 'Ann' AND",
        "SELECT * FROM Customer WHERE DisplayName = 'Ann' AND Active",
        "SELECT * FROM Customer WHERE DisplayName = 'Ann' AND Active =",
        "SELECT * FROM Customer WHERE MetaData.",
        "SELECT COUNT(",
        "SELECT COUNT(*",
    ],
)
def test_query_cut_short_is_a_parse_error(prefix):
    with pytest.raises(QueryError):
        parse(prefix)


CUSTOMERS = [
    {
        "Id": "1",
        "DisplayName": "Ann",
        "Active": True,
        "Balance": Decimal("10.00"),
        "MetaData": {"LastUpdatedTime": "2026-01-01T10:00:00-08:00"},
    },
    {
        "Id": "2",
        "DisplayName": "O'Brien",
        "Active": False,
        "Balance": Decimal("0.00"),
        "MetaData": {"LastUpdatedTime": "2026-01-02T10:00:00-08:00"},
    },
    {
        "Id": "10",
        "DisplayName": "bob",
        "Active": True,
        "Balance": Decimal("250.50"),
        "CustomerRef": {"value": "7", "name": "x"},
        "MetaData": {"LastUpdatedTime": "2026-01-03T10:00:00-08:00"},
    },
]


def _ids(text):
    query = parse(text)
    return [
        c["Id"]
        for c in sort_objects([c for c in CUSTOMERS if matches(c, query.where)], query.order_by)
    ]


def test_filters_compare_numbers_times_refs_and_text_sensibly():
    assert _ids("select * from Customer where Balance > '5'") == ["1", "10"]
    assert _ids("select * from Customer where Id > '2'") == ["10"]
    assert _ids(
        "select * from Customer where MetaData.LastUpdatedTime >= '2026-01-02T18:00:00Z'"
    ) == ["2", "10"]
    assert _ids("select * from Customer where CustomerRef = '7'") == ["10"]
    assert _ids("select * from Customer where DisplayName = 'ANN'") == ["1"]
    assert _ids("select * from Customer where DisplayName like 'o\\'%'") == ["2"]
    assert _ids("select * from Customer where Active = false") == ["2"]
    assert _ids("select * from Customer where Active in (true, false) orderby DisplayName") == [
        "1",
        "10",
        "2",
    ]
    assert _ids("select * from Customer orderby Balance desc") == ["10", "1", "2"]


def test_field_lookup_follows_dots_and_ignores_case():
    assert field_value(CUSTOMERS[0], "metadata.lastupdatedtime") == "2026-01-01T10:00:00-08:00"
    assert field_value(CUSTOMERS[0], "Missing.Field") is None

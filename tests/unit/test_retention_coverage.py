"""Retention is driven by the schema: every text column of every table is either overwritten when a
closed case's text is removed or listed as kept with its reason, so a column added later cannot keep
her words past the retention period without anyone deciding it should."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from coordinator.lifecycle import retention
from coordinator.models import Base


def test_every_text_column_is_erased_or_kept_with_a_reason():
    assert retention.uncovered(Base.metadata) == set()
    assert all(reason.strip() for reason in retention.KEPT.values())


def test_a_new_text_column_that_is_neither_erased_nor_kept_is_reported():
    schema = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(schema)
    Table("case_diary", schema, Column("id", Integer, primary_key=True), Column("entry", Text),
          Column("mood", String(20)))
    assert retention.uncovered(schema) == {"case_diary.entry", "case_diary.mood"}


def test_the_lists_name_only_real_columns_and_none_twice():
    """A renamed or dropped column must leave the lists too, or they would vouch for nothing."""
    every_column = {f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables
                    for column in table.columns}
    erased, kept = retention.erased_columns(), set(retention.KEPT)
    assert erased <= every_column and kept <= retention.text_columns(Base.metadata)
    assert erased & kept == set()
    assert "plan_acknowledgements.reason" in erased

"""``make bench`` rewrites docs/benchmarks.md without losing what it did not measure this time."""

from benchmarks.run import merge_sections

OLD = "# Benchmarks\n\nold intro\n\n## Training\n\nold figures\n\n## Container image\n\n684 MB\n"
NEW = "# Benchmarks\n\nnew intro\n\n## Training\n\nnew figures\n\n## Scoped refresh\n\n2 s\n"


def test_measured_sections_replace_their_old_text_and_the_others_stay():
    merged = merge_sections(OLD, NEW)
    assert merged.startswith("# Benchmarks\n\nnew intro\n")
    assert "new figures" in merged and "old figures" not in merged
    assert "## Scoped refresh\n\n2 s" in merged
    assert merged.rstrip().endswith("## Container image\n\n684 MB")


def test_a_subset_run_keeps_the_pages_date_and_its_sections_carry_their_own():
    merged = merge_sections(OLD, NEW, keep_head=True)
    assert merged.startswith("# Benchmarks\n\nold intro\n")
    assert "new figures" in merged and "## Container image\n\n684 MB" in merged

"""No behaviour change unless meant: the records of the shared media equal the kept reference
(``tests/golden_records.py`` makes it and says what moved)."""

from __future__ import annotations

import pandas as pd
import pytest

from golden_records import CLIPS, GOLDEN, current_records, differences


def test_records_of_the_shared_media_match_the_reference(media_dir):
    for name in CLIPS:
        if not (media_dir / "videos" / name).exists():
            pytest.skip(f"{name} is absent from {media_dir}")
    moved = differences(pd.read_csv(GOLDEN), current_records(media_dir / "videos"))
    assert not moved, "records moved (if meant, rewrite with `python tests/golden_records.py --write`):\n" + "\n".join(
        moved
    )


def test_the_comparison_sees_a_moved_box_and_a_changed_probability():
    golden = pd.read_csv(GOLDEN)
    moved = golden.copy()
    moved.loc[3, "x1"] += 1
    moved.loc[5, "p_happy"] += 0.01
    said = differences(golden, moved)
    assert any("x1 differs on 1 of" in s for s in said) and any("numbers moved by up to 0.01" in s for s in said)
    assert differences(golden, golden) == []

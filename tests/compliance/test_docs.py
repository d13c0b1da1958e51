"""docs/compliance.md's rule table is the code's: every rule id, severity and meaning."""

import re
from pathlib import Path

from compliance.conform import CONFORM_RULES
from compliance.report import RULES

DOC = Path(__file__).parents[2] / "docs" / "compliance.md"


def test_the_rule_table_matches_the_code():
    rows = re.findall(
        r"^\| `([a-z_]+\.[a-z_]+)` \| (\w+) \| (.+) \|$", DOC.read_text(), re.MULTILINE
    )
    table = {rule: (severity, meaning) for rule, severity, meaning in rows}
    expected = {rule: (severity, meaning) for rule, (severity, meaning) in RULES.items()}
    expected |= {rule: ("deviation", meaning) for rule, meaning in CONFORM_RULES.items()}
    assert table == expected

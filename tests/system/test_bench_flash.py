"""`make bench ARGS='--only flash'`, small: a flash sale of 40 orders through both doors on
the local stack with the AWS limits model (SES at 5 a second) loses, oversells, doubles and
dead-letters nothing, and the scarce SKU sells out exactly.

Behaviour only: the drain time against the SES floor is the bench's figure, not asserted here.
The report's counting is in tests/unit/test_bench_flash.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import ROOT

PATHS = (".", "chalice_app", "ec2_tier")  # what the Makefile puts on PYTHONPATH
ORDERS, SCARCE_STOCK = 40, 3


def test_a_small_flash_sale_loses_oversells_and_doubles_nothing(tmp_path: Path) -> None:
    sale = ["--only", "flash", "--flash-orders", str(ORDERS), "--flash-seconds", "4"]
    limits = ["--flash-ses-rate", "5", "--flash-scarce-stock", str(SCARCE_STOCK)]
    subprocess.run(
        [sys.executable, "-m", "bench", *sale, *limits, "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in PATHS)},
        check=True,
        capture_output=True,
        timeout=240,
    )
    flash = json.loads((tmp_path / "results.json").read_text())["flash"]

    assert flash["placed"] == ORDERS
    assert flash["placed_by_door"] == {"api": ORDERS // 2, "storefront": ORDERS // 2}
    assert flash["lost"] == 0, flash["lost_orders"]
    assert flash["oversold"] == 0
    assert flash["stock_not_conserved"] == []
    scarce = flash["stock"][flash["scarce_sku"]]
    assert (scarce["reserved"], scarce["final"]) == (SCARCE_STOCK, 0)  # sold out, exactly
    demand = sum(1 for n in range(ORDERS) if n % 3 == 2)  # every third order wants it
    assert flash["statuses"] == {
        "CONFIRMED": ORDERS - demand + SCARCE_STOCK,
        "REJECTED": demand - SCARCE_STOCK,
    }
    assert flash["rejected_by_reason"] == {"out_of_stock": demand - SCARCE_STOCK}
    assert flash["emails"] == ORDERS
    assert flash["emailed_twice"] == 0, flash["emailed_twice_orders"]
    assert flash["not_emailed"] == 0
    assert flash["dead_letters"] == 0, flash["dead_letters_by_queue"]
    assert "## Flash sale" in (tmp_path / "results.md").read_text()

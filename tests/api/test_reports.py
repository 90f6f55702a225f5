from datetime import UTC, datetime

from tests.helpers import buy, create_account, redeem, upsert_course

REPORT = """
query($from: Date, $to: Date) {
  usageReport(from: $from, to: $to) {
    from to
    months { month purchased redeemed expired reversed adjusted balance }
    topLearners { learner { email } credits redemptions }
    topCourses { course { sku } credits redemptions }
    expiringByMonth { month credits }
  }
}"""


async def test_usage_report_per_month_top_users_and_what_is_at_risk(
    ann, support, client_factory, clock
):
    clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
    account = await create_account(ann)
    await buy(ann, 1_000, "jan")
    small = await upsert_course(support, "S", "Small", 100)
    big = await upsert_course(support, "B", "Big", 300)
    lee, kim = client_factory("lee@example.com"), client_factory("kim@example.com")
    await redeem(lee, account["redemptionCode"], big["id"], "1")
    clock.set(datetime(2026, 2, 3, tzinfo=UTC))
    await buy(ann, 2_000, "feb")
    await redeem(kim, account["redemptionCode"], small["id"], "2")
    await redeem(lee, account["redemptionCode"], small["id"], "3")
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    report = (await ann.data(REPORT, {"from": "2026-01-01", "to": "2026-03-31"}))["usageReport"]
    assert report["from"] == "2026-01-01"
    assert [
        (m["month"], m["purchased"], m["redeemed"], m["balance"]) for m in report["months"]
    ] == [
        ("2026-01", 1_000, 300, 700),
        ("2026-02", 2_000, 200, 2_500),
        ("2026-03", 0, 0, 2_500),
    ]
    assert report["topLearners"] == [
        {"learner": {"email": "lee@example.com"}, "credits": 400, "redemptions": 2},
        {"learner": {"email": "kim@example.com"}, "credits": 100, "redemptions": 1},
    ]
    assert report["topCourses"][0] == {"course": {"sku": "B"}, "credits": 300, "redemptions": 1}
    # Every redemption drew from the January lot, the soonest to expire.
    assert report["expiringByMonth"] == [
        {"month": "2027-01", "credits": 500},
        {"month": "2027-02", "credits": 2_000},
    ]
    too_long = await ann.error_code(REPORT, {"from": "2020-01-01", "to": "2026-01-01"})
    assert too_long == "INVALID_INPUT"

"""clock.local and clock.zones: a stored time on a practice's clock."""

from datetime import datetime

from ozyops import clock


def test_a_stored_time_reads_on_the_practices_clock_summer_and_winter():
    stored_winter, stored_summer = datetime(2026, 1, 15, 14, 30), datetime(2026, 7, 15, 14, 30)
    assert f"{clock.local(stored_winter, 'America/New_York'):%H:%M %Z}" == "09:30 EST"
    assert f"{clock.local(stored_summer, 'America/New_York'):%H:%M %Z}" == "10:30 EDT"
    assert f"{clock.local(stored_summer, 'UTC'):%Y-%m-%d %H:%M %Z}" == "2026-07-15 14:30 UTC"
    # The date follows the clock too: late evening UTC is the next morning in Sydney.
    assert (
        f"{clock.local(datetime(2026, 3, 1, 22, 0), 'Australia/Sydney'):%Y-%m-%d}" == "2026-03-02"
    )


def test_the_zones_to_choose_from_are_places_with_utc_first():
    zones = clock.zones()
    assert zones[0] == "UTC" and list(zones[1:]) == sorted(zones[1:])
    assert {"America/New_York", "Europe/London", "Australia/Sydney"} <= set(zones)
    assert not any(z.startswith(("US/", "Etc/", "Canada/")) for z in zones)
    # Old names of places, left for the new ones (a review found them listed twice).
    assert {"Asia/Kolkata", "Europe/Kyiv"} <= set(zones)
    assert not {"Asia/Calcutta", "Europe/Kiev", "Australia/ACT"} & set(zones)

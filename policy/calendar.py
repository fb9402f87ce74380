"""The time zone of every policy calendar: windows, working days, months and years are Beijing time."""

from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

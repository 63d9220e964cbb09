"""Where and when: Shanghai's districts, GPS fixes with realistic error, and fast timestamp strings.

Distances here are the equirectangular approximation (good to a fraction of a percent inside a city);
the detectors use haversine, so every margin the generator relies on is kept well clear of a limit.
"""

from __future__ import annotations

import math
import random
from datetime import date

M_PER_DEG = 111_320.0
OFFSET = "+08:00"  # Asia/Shanghai has no daylight saving time
DAY_S = 86_400

# Offices of the company: head office downtown and branches in the outer districts (name, lat, lon, radius_m)
SITES = (
    ("S-HQ", "Head office (Huangpu)", 31.2304, 121.4737, 200),
    ("S-PD", "Pudong branch (Zhangjiang)", 31.2040, 121.5900, 200),
    ("S-MH", "Minhang branch", 31.1120, 121.3810, 200),
    ("S-BS", "Baoshan branch", 31.4050, 121.4890, 250),
    ("S-JD", "Jiading branch", 31.3740, 121.2650, 250),
    ("S-SJ", "Songjiang branch", 31.0320, 121.2280, 250),
    ("S-CN", "Changning branch (Hongqiao)", 31.1970, 121.3360, 200),
    ("S-YP", "Yangpu branch", 31.2600, 121.5200, 200),
)
DISTRICTS = ("Huangpu", "Pudong", "Minhang", "Baoshan", "Jiading", "Songjiang", "Changning", "Yangpu", "Xuhui",
             "Jing'an", "Putuo", "Hongkou", "Qingpu", "Fengxian")
NAME_A = ("Huaxin", "Hengtong", "Jinyu", "Ruifeng", "Dongfang", "Xinda", "Baolong", "Tianyi", "Zhongke", "Haitong",
          "Yuanhang", "Longsheng", "Fuda", "Kaiyuan", "Shenghua", "Mingde", "Anxin", "Taihe", "Guotai", "Weixing")
NAME_B = ("Trading", "Machinery", "Foods", "Textiles", "Medical", "Logistics", "Electric", "Steel Parts",
          "Chemicals", "Packaging", "Software", "Furniture", "Auto Parts", "Printing", "Plastics", "Optics")
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun", "Hu", "Zhu",
            "Gao", "Lin", "He", "Guo", "Ma", "Luo")
GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Yan", "Jun", "Hao", "Ling", "Tao", "Xin", "Ming",
         "Hui", "Yu", "Jie", "Ping", "Chao", "Lan")

# Reported accuracy vs. true error: a fix's accuracy_m is the radius of 68% confidence (as phones
# report it), so the true error is Rayleigh-distributed with sigma = accuracy / 1.5096.
_RAYLEIGH_68 = math.sqrt(-2.0 * math.log(0.32))
_LOG60 = math.log(60.0)
_TAU = 2 * math.pi


def move(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    x = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2)) * M_PER_DEG
    y = (lat2 - lat1) * M_PER_DEG
    return math.hypot(x, y)


def scatter(rng: random.Random, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
    """A point normally scattered around (lat, lon), sigma_m metres in each direction."""
    return move(lat, lon, rng.gauss(0.0, sigma_m), rng.gauss(0.0, sigma_m))


def away(rng: random.Random, lat: float, lon: float, lo_m: float, hi_m: float) -> tuple[float, float]:
    """A point between lo_m and hi_m from (lat, lon), in a random direction."""
    r = rng.uniform(lo_m, hi_m)
    a = rng.uniform(0.0, 2 * math.pi)
    return move(lat, lon, r * math.cos(a), r * math.sin(a))


def fix(rng: random.Random, lat: float, lon: float, poor_rate: float, poor_hi: float) -> tuple[float, float, int]:
    """A GPS fix of someone standing at a customer's door: ``(lat, lon, accuracy_m)``.

    Most fixes report 5-30 m and land within a few tens of metres (plus up to 40 m because people
    clock in from the car park or the lobby, not the registered point). With probability
    ``poor_rate`` the fix is poor (indoors, between towers): accuracy log-uniform between 60 m and
    ``poor_hi``, the true error Rayleigh-distributed around that accuracy (so a third of poor fixes
    land farther away than the accuracy they report).
    """
    rnd = rng.random
    if rnd() < poor_rate:
        acc = math.exp(_LOG60 + (math.log(poor_hi) - _LOG60) * rnd())
    else:
        acc = 5.0 + 25.0 * rnd()
    # where the person stands (up to 40 m from the registered point), plus the fix's error
    d0, a0 = 40.0 * rnd(), _TAU * rnd()
    r = acc / _RAYLEIGH_68 * math.sqrt(-2.0 * math.log(1.0 - rnd()))
    a = _TAU * rnd()
    north = d0 * math.cos(a0) + r * math.cos(a)
    east = d0 * math.sin(a0) + r * math.sin(a)
    lat2, lon2 = move(lat, lon, north, east)
    return round(lat2, 6), round(lon2, 6), int(round(acc))


def r6(x: float) -> float:
    return round(x, 6)


# -- time -------------------------------------------------------------------------------------------
_HM = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
_SS = [f":{s:02d}{OFFSET}" for s in range(60)]


class DayClock:
    """RFC 3339 strings for seconds of one local day, cheaply."""

    __slots__ = ("day", "iso", "_prefix")

    def __init__(self, day: date):
        self.day = day
        self.iso = day.isoformat()
        self._prefix = self.iso + "T"

    def ts(self, sec: int) -> str:
        return self._prefix + _HM[sec // 60] + _SS[sec % 60]


def hhmm(sec: int) -> str:
    return _HM[sec // 60]


def hms(h: int, m: int = 0, s: int = 0) -> int:
    return h * 3600 + m * 60 + s

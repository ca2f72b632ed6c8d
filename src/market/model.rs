//! Market types and the pure functions around them: coin ids, what a provider observed, what is
//! stored, sanity bounds, price formatting and sparkline geometry.

use serde::Serialize;

use crate::config::market::CoinId;

/// A price above this many dollars per coin is taken for a provider error.
pub const MAX_USD: f64 = 1e9;

/// A 24 h change outside this range (in percent) is taken for a provider error.
pub const CHANGE_RANGE: std::ops::RangeInclusive<f64> = -100.0..=100_000.0;

/// How a coin is labelled. Known coins have their usual name and ticker; any other id gets a
/// name made from the id and a ticker from its first letters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoinLabel {
    pub name: String,
    pub symbol: String,
}

/// Names and tickers of well-known coins, by CoinGecko id.
const KNOWN_COINS: &[(&str, &str, &str)] = &[
    ("bitcoin", "Bitcoin", "BTC"),
    ("ethereum", "Ethereum", "ETH"),
    ("neo", "NEO", "NEO"),
    ("waves", "Waves", "WAVES"),
    ("monero", "Monero", "XMR"),
    ("nano", "Nano", "XNO"),
    ("ark", "ARK", "ARK"),
    ("pirate-chain", "Pirate Chain", "ARRR"),
    ("dogecoin", "Dogecoin", "DOGE"),
    ("litecoin", "Litecoin", "LTC"),
    ("cardano", "Cardano", "ADA"),
    ("solana", "Solana", "SOL"),
    ("ripple", "XRP", "XRP"),
    ("tether", "Tether", "USDT"),
    ("usd-coin", "USDC", "USDC"),
    ("polkadot", "Polkadot", "DOT"),
    ("tron", "TRON", "TRX"),
    ("stellar", "Stellar", "XLM"),
    ("zcash", "Zcash", "ZEC"),
    ("dash", "Dash", "DASH"),
    ("bitcoin-cash", "Bitcoin Cash", "BCH"),
    ("ethereum-classic", "Ethereum Classic", "ETC"),
    ("chainlink", "Chainlink", "LINK"),
    ("binancecoin", "BNB", "BNB"),
];

pub fn label(id: &CoinId) -> CoinLabel {
    if let Some((_, name, symbol)) = KNOWN_COINS.iter().find(|(known, _, _)| *known == id.as_str()) {
        return CoinLabel { name: name.to_string(), symbol: symbol.to_string() };
    }
    let name = id
        .as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let symbol: String = id.as_str().chars().filter(|c| *c != '-').take(4).collect::<String>().to_ascii_uppercase();
    CoinLabel { name, symbol }
}

/// One coin's price as a provider reported it, already checked by [`check_observation`].
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub coin: CoinId,
    pub usd: f64,
    /// Percent change over 24 hours; `None` when the provider gave none.
    pub change_24h: Option<f64>,
    /// The provider itself flagged the price as stale (CoinGecko: `usd_24h_change: null`).
    pub provider_stale: bool,
    /// The provider's own time for the price, Unix seconds, when it gives one.
    pub provider_updated_at: Option<i64>,
}

/// Why one coin's value from a provider was not used.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub coin: CoinId,
    pub reason: String,
}

/// Checks a provider's raw numbers for one coin; `Err` is the reason to reject it.
pub fn check_observation(usd: f64, change_24h: Option<f64>) -> Result<(), String> {
    if !usd.is_finite() {
        return Err(format!("price {usd} is not a finite number"));
    }
    if usd <= 0.0 {
        return Err(format!("price {usd} is not positive"));
    }
    if usd > MAX_USD {
        return Err(format!("price {usd} is absurd (above {MAX_USD})"));
    }
    if let Some(change) = change_24h {
        if !change.is_finite() || !CHANGE_RANGE.contains(&change) {
            return Err(format!("24 h change {change}% is absurd"));
        }
    }
    Ok(())
}

/// The last good value stored for one coin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub coin_id: String,
    pub usd: f64,
    pub change_24h: Option<f64>,
    /// Shown as stale: the provider flagged it, or it was older than `market.stale_after_secs`
    /// at the last poll.
    pub stale: bool,
    /// Provider name the value came from.
    pub source: String,
    /// When this node fetched it, Unix seconds.
    pub observed_at: i64,
    pub provider_updated_at: Option<i64>,
}

/// One point of price history (hourly buckets).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PricePoint {
    /// Unix seconds.
    pub at: i64,
    pub usd: f64,
}

/// History points are stored one per coin and hour: the last value seen in that hour.
pub const HISTORY_BUCKET_SECS: i64 = 3600;

/// History older than this is deleted.
pub const HISTORY_KEEP_SECS: i64 = 31 * 86_400;

pub fn bucket(at: i64) -> i64 {
    at - at.rem_euclid(HISTORY_BUCKET_SECS)
}

/// `$117,033.76`; below a dollar four significant digits (`$0.2412`, `$0.00001235`); `$0.00` for
/// zero. Negative or non-finite values are never stored, but format as `$0.00` rather than lie.
pub fn format_usd(usd: f64) -> String {
    if !usd.is_finite() || usd <= 0.0 {
        return "$0.00".into();
    }
    if usd >= 1.0 {
        let cents = (usd * 100.0).round() as u128;
        return format!("${}.{:02}", group_thousands(cents / 100), cents % 100);
    }
    // Four significant digits: as many decimals as put the fourth one in place.
    let decimals = (4 - 1 - usd.log10().floor() as i32).clamp(2, 12) as usize;
    let text = format!("{usd:.decimals$}");
    if text == "1.0000" {
        return "$1.00".into();
    }
    format!("${text}")
}

fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Which way a change went, for the arrow, the colour and the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    Flat,
}

/// `+4.09%`, `−0.77%` (a real minus sign), `0.00%`, with its direction (by the rounded value,
/// so `−0.00%` never appears).
pub fn format_change(change: f64) -> (String, Direction) {
    let hundredths = (change * 100.0).round() as i64;
    let magnitude = format!("{}.{:02}%", hundredths.abs() / 100, hundredths.abs() % 100);
    match hundredths.signum() {
        1 => (format!("+{magnitude}"), Direction::Up),
        -1 => (format!("\u{2212}{magnitude}"), Direction::Down),
        _ => (magnitude, Direction::Flat),
    }
}

/// Averages `points` (oldest first) into at most `max` evenly sized groups, so a chart draws
/// a bounded number of vertices whatever the history holds.
pub fn downsample(points: &[PricePoint], max: usize) -> Vec<PricePoint> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(max);
    for group in 0..max {
        let start = group * points.len() / max;
        let end = ((group + 1) * points.len() / max).max(start + 1);
        let slice = &points[start..end];
        let usd = slice.iter().map(|p| p.usd).sum::<f64>() / slice.len() as f64;
        out.push(PricePoint { at: slice[slice.len() - 1].at, usd });
    }
    out
}

/// SVG `points` for a line through `points` (oldest first) in a `width`×`height` box with
/// `pad` units of margin, x by time and y by price (higher is up). Empty for fewer than 2 points.
pub fn polyline(points: &[PricePoint], width: f64, height: f64, pad: f64) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else { return String::new() };
    if points.len() < 2 {
        return String::new();
    }
    let span = (last.at - first.at).max(1) as f64;
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.usd), hi.max(p.usd)));
    let range = hi - lo;
    let mut out = String::with_capacity(points.len() * 12);
    for (i, p) in points.iter().enumerate() {
        let x = pad + (p.at - first.at) as f64 / span * (width - 2.0 * pad);
        // A flat line sits in the middle.
        let y = if range > 0.0 { pad + (hi - p.usd) / range * (height - 2.0 * pad) } else { height / 2.0 };
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{x:.1},{y:.1}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_ids_are_lowercase_letters_digits_and_dashes() {
        for good in ["bitcoin", "pirate-chain", "0x", "usd-coin"] {
            assert!(CoinId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Bitcoin", "bit coin", "bit_coin", "-btc", "btc-", "a/b", "é", &"x".repeat(65)] {
            assert!(CoinId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prices_read_as_people_read_them() {
        assert_eq!(format_usd(117_033.764), "$117,033.76");
        assert_eq!(format_usd(4866.17), "$4,866.17");
        assert_eq!(format_usd(1_234_567.891), "$1,234,567.89");
        assert_eq!(format_usd(86.44), "$86.44");
        assert_eq!(format_usd(1.0), "$1.00");
        assert_eq!(format_usd(0.241_234), "$0.2412");
        assert_eq!(format_usd(0.152_318), "$0.1523");
        assert_eq!(format_usd(0.999_99), "$1.00");
        assert_eq!(format_usd(0.012_345_6), "$0.01235");
        assert_eq!(format_usd(0.000_012_346), "$0.00001235");
        assert_eq!(format_usd(0.0), "$0.00");
        assert_eq!(format_usd(-3.0), "$0.00");
        assert_eq!(format_usd(f64::NAN), "$0.00");
    }

    #[test]
    fn changes_carry_a_sign_and_a_direction() {
        assert_eq!(format_change(4.0912), ("+4.09%".to_string(), Direction::Up));
        assert_eq!(format_change(-0.7711), ("\u{2212}0.77%".to_string(), Direction::Down));
        assert_eq!(format_change(-0.001), ("0.00%".to_string(), Direction::Flat));
        assert_eq!(format_change(14.745), ("+14.75%".to_string(), Direction::Up));
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(check_observation(91_234.12, Some(1.8)).is_ok());
        assert!(check_observation(0.5, None).is_ok());
        assert!(check_observation(f64::NAN, None).unwrap_err().contains("finite"));
        assert!(check_observation(-1.0, None).unwrap_err().contains("positive"));
        assert!(check_observation(0.0, None).unwrap_err().contains("positive"));
        assert!(check_observation(5e12, None).unwrap_err().contains("absurd"));
        assert!(check_observation(1.0, Some(f64::INFINITY)).is_err());
        assert!(check_observation(1.0, Some(-150.0)).is_err());
    }

    #[test]
    fn unknown_coins_get_a_readable_label() {
        let label = label(&CoinId::parse("my-new-coin").unwrap());
        assert_eq!(label, CoinLabel { name: "My New Coin".into(), symbol: "MYNE".into() });
    }

    #[test]
    fn downsampling_bounds_the_vertices_and_keeps_the_ends() {
        let points: Vec<PricePoint> = (0..168).map(|h| PricePoint { at: h * 3600, usd: h as f64 }).collect();
        let small = downsample(&points, 42);
        assert_eq!(small.len(), 42);
        assert_eq!(small.last().unwrap().at, 167 * 3600);
        assert!((small[0].usd - 1.5).abs() < 1e-9, "{:?}", small[0]);
        assert_eq!(downsample(&points[..10], 42).len(), 10);
    }

    #[test]
    fn polylines_fit_the_box_with_higher_prices_higher_up() {
        let points = [PricePoint { at: 0, usd: 1.0 }, PricePoint { at: 10, usd: 3.0 }, PricePoint { at: 20, usd: 2.0 }];
        assert_eq!(polyline(&points, 100.0, 20.0, 1.0), "1.0,19.0 50.0,1.0 99.0,10.0");
        let flat = [PricePoint { at: 0, usd: 1.0 }, PricePoint { at: 10, usd: 1.0 }];
        assert_eq!(polyline(&flat, 100.0, 20.0, 1.0), "1.0,10.0 99.0,10.0");
        assert_eq!(polyline(&points[..1], 100.0, 20.0, 1.0), "");
    }
}

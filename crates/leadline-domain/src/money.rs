//! Money in integer minor units, shown and typed by people in major units.

/// Decimal places of a currency's minor unit (ISO 4217); 2 when unknown.
pub fn exponent(currency: Option<&str>) -> u32 {
    match currency.unwrap_or("") {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "PYG" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// `123456` USD → `"1234.56"`.
pub fn format_minor(amount: i64, currency: Option<&str>) -> String {
    let e = exponent(currency);
    if e == 0 {
        return amount.to_string();
    }
    let div = 10i64.pow(e);
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        a / div as u64,
        a % div as u64,
        width = e as usize
    )
}

/// `"1,234.5"` USD → `123450`. Refuses more decimals than the currency has.
pub fn parse_major(text: &str, currency: Option<&str>) -> Option<i64> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_' && *c != ' ')
        .collect();
    if t.is_empty() || t.starts_with('-') {
        return None;
    }
    let e = exponent(currency);
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if frac.len() > e as usize
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_val: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = e as usize)
            .parse()
            .ok()?
    };
    whole.checked_mul(10i64.pow(e))?.checked_add(frac_val)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_minor(123456, Some("USD")), "1234.56");
        assert_eq!(format_minor(5, Some("EUR")), "0.05");
        assert_eq!(format_minor(5000, Some("JPY")), "5000");
        assert_eq!(parse_major("1,234.5", Some("USD")), Some(123450));
        assert_eq!(parse_major("1.234", Some("USD")), None);
        assert_eq!(parse_major("12", Some("KWD")), Some(12000));
        assert_eq!(parse_major("abc", None), None);
        assert_eq!(parse_major("99999999999999999999", None), None);
    }

    proptest! {
        #[test]
        fn round_trips(a in 0i64..1_000_000_000_000, cur in prop::sample::select(vec!["USD", "JPY", "KWD"])) {
            prop_assert_eq!(parse_major(&format_minor(a, Some(cur)), Some(cur)), Some(a));
        }
    }
}

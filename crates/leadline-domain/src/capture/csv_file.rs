//! CSV files as spreadsheets export them: any of three delimiters, quoted or not, UTF-8
//! or Windows-1252, with or without a byte-order mark, rows of any length.

use super::body::decode_text;
use super::import::MAX_ROWS;
use crate::validation::ValidationErrors;

fn invalid(code: &str, message: impl Into<String>) -> ValidationErrors {
    let mut e = ValidationErrors::default();
    e.add("file", code, message);
    e
}

/// A CSV file, read: headers and rows as text (any encoding decoded, BOM removed).
#[derive(Debug, Clone)]
pub struct CsvFile {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn decode(bytes: &[u8]) -> String {
    // Spreadsheet exports on Windows are often Windows-1252.
    decode_text(bytes, None)
}

/// Reads a CSV file: comma, semicolon or tab separated (from the header line), quoted
/// or not, rows of any length (a wrong length is the row's problem, reported later).
pub fn read_csv(bytes: &[u8]) -> Result<CsvFile, ValidationErrors> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|c| decode(c).trim().to_owned()).collect(),
        Some(Err(e)) => return Err(invalid("unreadable_csv", e.to_string())),
        None => return Err(invalid("empty_file", "the file has no header row")),
    };
    if headers.iter().all(String::is_empty) {
        return Err(invalid("empty_header", "the header row is empty"));
    }
    let mut rows = Vec::new();
    for r in records {
        let r = r.map_err(|e| invalid("unreadable_csv", e.to_string()))?;
        if r.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        rows.push(r.iter().map(decode).collect());
        if rows.len() > MAX_ROWS {
            return Err(invalid(
                "too_many_rows",
                format!("an import holds at most {MAX_ROWS} rows"),
            ));
        }
    }
    Ok(CsvFile { headers, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_files_of_every_shape_are_read() {
        let f =
            read_csv(b"\xEF\xBB\xBFEmail;Name\r\na@x.example;\"Lima; Ana\"\r\n\r\nb@x.example\r\n")
                .unwrap();
        assert_eq!(f.headers, ["Email", "Name"]);
        assert_eq!(f.rows.len(), 2);
        assert_eq!(f.rows[0][1], "Lima; Ana");
        assert_eq!(f.rows[1].len(), 1, "a short row is kept for its error");
        let latin = read_csv(b"Name\nM\xfcller\n").unwrap();
        assert_eq!(latin.rows[0][0], "Müller");
        assert!(read_csv(b"").is_err());
        let quoted = read_csv(b"a,b\n\"unterminated,1\n").unwrap();
        assert_eq!(quoted.rows.len(), 1);
    }
}

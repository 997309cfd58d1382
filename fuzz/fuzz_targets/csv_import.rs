//! A CSV file as uploaded: read (any delimiter, encoding, quoting), its columns mapped by
//! their headers (unknown ones kept, `Select` read as empty), every row mapped and
//! validated as a lead, and the kinds of unknown columns inferred.
#![no_main]

use leadline_domain::capture::csv_file::read_csv;
use leadline_domain::capture::import::{ImportOptions, RowMapper, infer_kind, resolve_mapping};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = read_csv(data) else {
        return;
    };
    let defs = leadline_fuzz::custom_fields();
    let options = ImportOptions {
        outcome_column: file
            .headers
            .iter()
            .find(|h| h.eq_ignore_ascii_case("converted"))
            .cloned(),
        ..ImportOptions::default()
    };
    let mapping = resolve_mapping(&file.headers, &options);
    for (i, _) in mapping.iter().enumerate() {
        let _ = infer_kind(
            file.rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(String::as_str),
        );
    }
    let Ok(mapper) = RowMapper::new(&file.headers, &options, &defs) else {
        return;
    };
    let _ = mapper.mapping();
    for row in &file.rows {
        let values: Vec<&str> = row.iter().map(String::as_str).collect();
        if let Ok(mapped) = mapper.row(&values) {
            let _ = mapped.fields.clean(&defs);
        }
    }
});

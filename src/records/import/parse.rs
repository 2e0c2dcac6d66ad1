//! Checking a file before anything is written: decoding (UTF-8 or Shift_JIS), cutting the
//! text into pieces at record boundaries, checking, hashing and encrypting rows on every core,
//! and reporting the first bad line with its column.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{TARGET_FILE_COLUMNS, VACCINATION_COLUMNS};
use crate::card::MyNumber;
use crate::catalogue;
use crate::domain::{BirthDate, MunicipalityCode, Sex};
use crate::records::Records;
use crate::records::error::{Column, Error, Result};
use crate::records::model::{AtenaNo, CouponType, KenNo, ResidentStatus};

/// UTF-8 (BOM stripped) or Shift_JIS/CP932.
pub(super) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(s));
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(Error::Encoding)
}

pub(super) fn col(names: &'static [&'static str], i: usize) -> Column {
    Column {
        number: i + 1,
        name: names[i],
    }
}

/// A header name with the spellings that vary between exports made the same: full-width or ASCII
/// brackets and slash, surrounding spaces, and the short names vaxcert's own files used.
fn header_key(name: &str) -> String {
    let s: String = name
        .trim_matches(|c: char| c.is_whitespace())
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '／' => '/',
            c => c,
        })
        .collect();
    match s.as_str() {
        "宛名番号" => "個別宛名番号".into(),
        "個人番号" => "マイナンバー".into(),
        "姓" => "氏名(姓)".into(),
        "名" => "氏名(名)".into(),
        "セイ" => "氏名(セイ)".into(),
        "メイ" => "氏名(メイ)".into(),
        "転出死亡フラグ" | "転出・死亡フラグ" => "転出/死亡フラグ".into(),
        _ => s,
    }
}

/// A first line is a header when it cannot be data (a data line starts with a 宛名番号) and
/// names at least one known column, so a header in the wrong order is refused, not read as data.
fn looks_like_header(rec: &csv::StringRecord) -> bool {
    let known = |f: &str| {
        let k = header_key(f);
        TARGET_FILE_COLUMNS
            .iter()
            .chain(VACCINATION_COLUMNS.iter())
            .any(|c| header_key(c) == k)
    };
    rec.get(0).is_some_and(|f| AtenaNo::parse(f).is_err()) && rec.iter().any(known)
}

/// A header names the columns in order; the last `optional` of them may be left out.
fn is_header(rec: &csv::StringRecord, columns: &[&str], optional: usize) -> bool {
    (columns.len() - optional..=columns.len()).contains(&rec.len())
        && rec
            .iter()
            .zip(columns)
            .all(|(f, c)| header_key(f) == header_key(c))
}

/// A bad first line in a file without a header is most often a file in another column order:
/// say which order is expected.
fn with_order_hint(e: Error, columns: &[&str]) -> Error {
    match e {
        Error::Row {
            line: 1,
            column,
            what,
        } => Error::Row {
            line: 1,
            column,
            what: format!(
                "{what} (columns are expected in this order: {})",
                columns.join(",")
            ),
        },
        e => e,
    }
}

/// Iterate the data records of a CSV text: `(line, fields)`, header skipped when present.
/// `text` may be a piece of a file: `lines_before` is added to every line number, and only the
/// first piece (`may_have_header`) can hold the header.
fn records<'a>(
    text: &'a str,
    columns: &'static [&'static str],
    optional: usize,
    lines_before: u64,
    may_have_header: bool,
) -> impl Iterator<Item = Result<(u64, csv::StringRecord)>> + 'a {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut first = may_have_header;
    let want = columns.len() - optional..=columns.len();
    std::iter::from_fn(move || {
        loop {
            let mut rec = csv::StringRecord::new();
            match rdr.read_record(&mut rec) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0) + lines_before;
                    return Some(Err(Error::Line {
                        line,
                        what: "not valid CSV".into(),
                    }));
                }
                Ok(true) => {
                    let line = rec.position().map(|p| p.line()).unwrap_or(0) + lines_before;
                    if std::mem::take(&mut first)
                        && (is_header(&rec, columns, optional) || looks_like_header(&rec))
                    {
                        if is_header(&rec, columns, optional) {
                            continue;
                        }
                        return Some(Err(Error::Line {
                            line,
                            what: format!(
                                "the header does not name the expected columns in their order: {}",
                                columns.join(",")
                            ),
                        }));
                    }
                    if rec.len() == 1 && rec.get(0) == Some("") {
                        continue;
                    }
                    if !want.contains(&rec.len()) {
                        let expected = if optional == 0 {
                            columns.len().to_string()
                        } else {
                            format!("{} to {}", want.start(), want.end())
                        };
                        return Some(Err(Error::Line {
                            line,
                            what: format!("{} columns, expected {expected}", rec.len()),
                        }));
                    }
                    return Some(Ok((line, rec)));
                }
            }
        }
    })
}

/// Cut `text` into about `parts` pieces at record boundaries (a newline outside quotes, so a
/// quoted field holding a newline stays whole), each with the number of lines before it.
fn split_records(text: &str, parts: usize) -> Vec<(&str, u64)> {
    let bytes = text.as_bytes();
    let step = bytes.len() / parts.max(1) + 1;
    let mut pieces = Vec::with_capacity(parts);
    let (mut start, mut start_lines, mut lines, mut quoted) = (0, 0u64, 0u64, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' => {
                lines += 1;
                if !quoted && i + 1 - start >= step {
                    pieces.push((&text[start..=i], start_lines));
                    (start, start_lines) = (i + 1, lines);
                }
            }
            _ => {}
        }
    }
    if start < bytes.len() || pieces.is_empty() {
        pieces.push((&text[start..], start_lines));
    }
    pieces
}

/// Checked rows with their lines, in file order, up to the first error; and that error.
type Checked<T> = (Vec<(u64, T)>, Option<Error>);

/// Check every data record of a CSV file with `row`, spread over the cores: the per-row work
/// (validation, and for targets the MyNumber HMAC and AES-GCM) is most of an import's CPU.
/// Returns the rows in file order, each with its line, up to the first error, and that error.
fn check_rows<T: Send>(
    text: &str,
    columns: &'static [&'static str],
    optional: usize,
    progress: &(dyn Fn(u64) + Sync),
    row: &(dyn Fn(u64, &csv::StringRecord) -> Result<T> + Sync),
) -> Checked<T> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let pieces = split_records(text, workers);
    let done = AtomicU64::new(0);
    let results: Vec<Checked<T>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .iter()
            .enumerate()
            .map(|(k, &(piece, lines_before))| {
                let done = &done;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for item in records(piece, columns, optional, lines_before, k == 0) {
                        let checked = item.and_then(|(line, rec)| {
                            let r = row(line, &rec).map_err(|e| with_order_hint(e, columns))?;
                            Ok((line, r))
                        });
                        match checked {
                            Ok(r) => out.push(r),
                            Err(e) => return (out, Some(e)),
                        }
                        if out.len() % 10_000 == 0 {
                            progress(done.fetch_add(10_000, Ordering::Relaxed) + 10_000);
                        }
                    }
                    (out, None)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        Some(Error::Corrupt("a row-checking thread failed")),
                    )
                })
            })
            .collect()
    });
    let mut rows = Vec::with_capacity(results.iter().map(|(r, _)| r.len()).sum());
    for (piece, err) in results {
        rows.extend(piece);
        if err.is_some() {
            // Later pieces start after this error's line.
            return (rows, err);
        }
    }
    progress(rows.len() as u64);
    (rows, None)
}

fn text_field(v: &str, max_chars: usize, allow_empty: bool) -> std::result::Result<String, String> {
    if v.is_empty() && !allow_empty {
        return Err("is empty".into());
    }
    if v.chars().count() > max_chars {
        return Err(format!("is longer than {max_chars} characters"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    Ok(v.to_owned())
}

/// A letter or mark a name in Latin letters is written with (a foreign resident's name as on
/// the residence card: `SMITH`, `JOHN WILLIAM`, `O'BRIEN`, `MÜLLER-LÜDENSCHEIDT`).
fn latin_name_char(c: char) -> bool {
    c.is_ascii_alphabetic()
        || ('\u{00C0}'..='\u{024F}').contains(&c) && c.is_alphabetic()
        || ('Ａ'..='Ｚ').contains(&c)
        || ('ａ'..='ｚ').contains(&c)
        || matches!(c, '-' | '\'' | '.' | ',' | '－' | '’')
}

/// White space runs inside a name as one ASCII space; none at either end.
fn single_spaced(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 氏名（姓）or 氏名（名）: a Japanese name has no white space (family and given go in their own
/// columns); a name in Latin letters may hold spaces between its words (kept as one space).
fn person_name(v: &str) -> std::result::Result<String, String> {
    if !v.chars().any(char::is_whitespace) {
        return text_field(v, 30, false);
    }
    let s = single_spaced(v);
    if s.is_empty() {
        return Err("is empty".into());
    }
    if !s.chars().all(|c| c == ' ' || latin_name_char(c)) {
        return Err(
            "holds white space (family and given names go in their own columns; only a name in Latin letters has spaces)".into(),
        );
    }
    text_field(&s, 60, false)
}

/// Full-width katakana (with ー and ヴ), as VRS keeps カナ names; a foreign resident's reading
/// may hold spaces between words.
fn kana_name(v: &str) -> std::result::Result<String, String> {
    let s = text_field(&single_spaced(v), 60, false)?;
    if !s
        .chars()
        .all(|c| ('\u{30A1}'..='\u{30F6}').contains(&c) || c == 'ー' || c == '・' || c == ' ')
    {
        return Err("is not full-width katakana".into());
    }
    Ok(s)
}

/// 通称 (a foreign resident's registered alias): empty clears it; any text, spaces allowed.
fn alias_name(v: &str) -> std::result::Result<String, String> {
    text_field(&single_spaced(v), 60, true)
}

/// A validated target row, already hashed and encrypted.
pub(super) struct TargetRow {
    pub(super) atena: String,
    pub(super) hash: [u8; 32],
    pub(super) ciphertext: Vec<u8>,
    pub(super) family_kanji: String,
    pub(super) given_kanji: String,
    pub(super) family_kana: String,
    pub(super) given_kana: String,
    pub(super) birth_date: String,
    pub(super) sex: String,
    pub(super) ken_no: String,
    pub(super) status: i64,
    /// 通称: `None` when the file has no such column (left as it is), empty to clear.
    pub(super) alias: Option<String>,
}

pub(super) struct VaccinationRow {
    pub(super) atena: String,
    pub(super) dose: i64,
    pub(super) date: String,
    pub(super) product: String,
    pub(super) lot: String,
    pub(super) venue: String,
    pub(super) physician: String,
    pub(super) vaccinated_in: String,
    pub(super) coupon: String,
}
impl Records {
    pub(super) fn parse_targets(
        &self,
        text: &str,
        municipality: &MunicipalityCode,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Vec<TargetRow>, HashMap<String, u64>)> {
        let c = |i| col(&TARGET_FILE_COLUMNS, i);
        let row = |line: u64, rec: &csv::StringRecord| -> Result<TargetRow> {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            let f = |i: usize| rec.get(i).unwrap_or("");
            let atena = AtenaNo::parse(f(0))
                .map_err(|_| err(0, "must be 1–20 ASCII letters or digits".into()))?;
            // The MyNumber is never echoed in an error.
            let my_number = MyNumber::parse(f(1).as_bytes())
                .map_err(|_| err(1, "is not a valid 12-digit 個人番号 (check digit)".into()))?;
            let family_kanji = person_name(f(2)).map_err(|w| err(2, w))?;
            let given_kanji = person_name(f(3)).map_err(|w| err(3, w))?;
            let family_kana = kana_name(f(4)).map_err(|w| err(4, w))?;
            let given_kana = kana_name(f(5)).map_err(|w| err(5, w))?;
            let birth = if f(6).len() == 8 {
                BirthDate::parse(f(6)).ok()
            } else {
                None
            }
            .ok_or_else(|| err(6, "must be a real date as YYYYMMDD".into()))?;
            let sex = match f(7) {
                "1" => Sex::Male,
                "2" => Sex::Female,
                _ => return Err(err(7, "must be 1 (male) or 2 (female)".into())),
            };
            let ken = KenNo::parse(f(8)).map_err(|_| err(8, "must be 10 digits".into()))?;
            let status = ResidentStatus::from_flag(f(9))
                .map_err(|_| err(9, "must be empty, 1 (moved out) or 2 (deceased)".into()))?;
            // The 11th column is vaxcert's: without it, a re-import leaves a 通称 as it was.
            let alias = match rec.get(10) {
                Some(v) => Some(alias_name(v).map_err(|w| err(10, w))?),
                None => None,
            };
            let hash = self.keys.mynumber_hash(&my_number);
            let ciphertext =
                self.keys
                    .encrypt_mynumber(&my_number, municipality, atena.as_str())?;
            Ok(TargetRow {
                atena: atena.as_str().to_owned(),
                hash,
                ciphertext,
                family_kanji,
                given_kanji,
                family_kana,
                given_kana,
                birth_date: birth.iso(),
                sex: sex.code().to_owned(),
                ken_no: ken.as_str().to_owned(),
                status: status.to_db(),
                alias,
            })
        };
        let (checked, first_error) = check_rows(text, &TARGET_FILE_COLUMNS, 1, progress, &row);
        // Repeats, in file order: they come before `first_error`, which ends the rows.
        let mut lines: HashMap<String, u64> = HashMap::with_capacity(checked.len());
        let mut hashes: HashMap<[u8; 32], u64> = HashMap::with_capacity(checked.len());
        let mut rows = Vec::with_capacity(checked.len());
        for (line, r) in checked {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            if let Some(first) = lines.insert(r.atena.clone(), line) {
                return Err(err(0, format!("repeats the 宛名番号 of line {first}")));
            }
            if let Some(first) = hashes.insert(r.hash, line) {
                return Err(err(1, format!("repeats the 個人番号 of line {first}")));
            }
            rows.push(r);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((rows, lines)),
        }
    }

    pub(super) fn parse_vaccinations(
        &self,
        text: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Vec<VaccinationRow>, HashMap<String, u64>)> {
        let c = |i| col(&VACCINATION_COLUMNS, i);
        let today = crate::date::compact(crate::date::jst(self.now().0));
        let row = |line: u64, rec: &csv::StringRecord| -> Result<VaccinationRow> {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            let f = |i: usize| rec.get(i).unwrap_or("");
            let atena = AtenaNo::parse(f(0))
                .map_err(|_| err(0, "must be 1–20 ASCII letters or digits".into()))?;
            let dose: i64 = f(1)
                .parse()
                .ok()
                .filter(|d| (1..=10).contains(d) && !f(1).starts_with('0'))
                .ok_or_else(|| err(1, "must be a dose number from 1 to 10".into()))?;
            let date = if f(2).len() == 8 {
                BirthDate::parse(f(2)).ok()
            } else {
                None
            }
            .ok_or_else(|| err(2, "must be a real date as YYYYMMDD".into()))?;
            if date.compact().as_str() < "20210217" || date.compact() > today {
                return Err(err(
                    2,
                    "must lie between 2021-02-17 (the first dose in Japan) and today".into(),
                ));
            }
            let product = catalogue::product(f(3))
                .ok_or_else(|| err(3, "is not a product code of the vaccine catalogue".into()))?;
            let lot = f(4);
            if lot.is_empty()
                || lot.len() > 20
                || !lot.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(err(4, "must be 1–20 ASCII letters, digits or '-'".into()));
            }
            let venue = text_field(f(5), 30, false).map_err(|w| err(5, w))?;
            let physician = text_field(f(6), 20, false).map_err(|w| err(6, w))?;
            let vaccinated_in = MunicipalityCode::parse(f(7))
                .map_err(|e| err(7, format!("is not a municipality code ({e})")))?;
            let coupon = CouponType::from_code(f(8)).map_err(|_| {
                err(
                    8,
                    "must be 1 (接種券), 2 (一体型予診票) or 3 (券なし)".into(),
                )
            })?;
            Ok(VaccinationRow {
                atena: atena.as_str().to_owned(),
                dose,
                date: date.iso(),
                product: product.code.to_owned(),
                lot: lot.to_owned(),
                venue,
                physician,
                vaccinated_in: vaccinated_in.as_str().to_owned(),
                coupon: coupon.code().to_owned(),
            })
        };
        let (checked, first_error) = check_rows(text, &VACCINATION_COLUMNS, 0, progress, &row);
        // Repeats, in file order: they come before `first_error`, which ends the rows.
        let mut rows = Vec::with_capacity(checked.len());
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let mut seen: HashMap<(String, i64), u64> = HashMap::new();
        for (line, r) in checked {
            if let Some(first) = seen.insert((r.atena.clone(), r.dose), line) {
                return Err(Error::Row {
                    line,
                    column: c(1),
                    what: format!("repeats dose {} of line {first}", r.dose),
                });
            }
            first_line.entry(r.atena.clone()).or_insert(line);
            rows.push(r);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((rows, first_line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_and_bom_decode() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("宛名番号,山田");
        assert_eq!(decode(&sjis).unwrap(), "宛名番号,山田");
        assert_eq!(decode("\u{FEFF}abc".as_bytes()).unwrap(), "abc");
        assert!(matches!(decode(&[0x82, 0xFF, 0xFF]), Err(Error::Encoding)));
    }

    const TWO: [&str; 2] = ["a", "b"];

    #[test]
    fn pieces_end_at_record_boundaries_and_know_their_lines() {
        let text = "a,b\n1,\"x\ny\"\n2,z\n3,w\n4,v\n";
        for parts in 1..=8 {
            let pieces = split_records(text, parts);
            assert_eq!(pieces.iter().map(|p| p.0).collect::<String>(), text);
            let mut offset = 0;
            for (piece, lines_before) in &pieces {
                assert_eq!(text[..offset].matches('\n').count() as u64, *lines_before);
                offset += piece.len();
                // The quoted newline is never a cut.
                assert!(!piece.starts_with("y\""), "{pieces:?}");
            }
        }
    }

    #[test]
    fn rows_keep_file_order_and_lines_and_stop_at_the_first_error() {
        let mut text = String::from("a,b\n");
        for i in 1..=50_000 {
            text.push_str(&format!("{i},\"q\nq\"\n"));
        }
        let row = |_: u64, r: &csv::StringRecord| -> Result<u64> {
            r.get(0).and_then(|v| v.parse().ok()).ok_or(Error::Line {
                line: 0,
                what: "bad".into(),
            })
        };
        let (rows, err) = check_rows(&text, &TWO, 0, &|_| {}, &row);
        assert!(err.is_none());
        assert_eq!(rows.len(), 50_000);
        for (k, (line, v)) in rows.iter().enumerate() {
            assert_eq!(*v, k as u64 + 1);
            // The header is line 1 and every record spans two lines.
            assert_eq!(*line, 2 + 2 * k as u64);
        }
        // Errors near the end and near the start: the first one in the file wins.
        let bad = text.replace("49000,", "x,").replace("\n7,", "\n,");
        let (rows, err) = check_rows(&bad, &TWO, 0, &|_| {}, &row);
        assert_eq!(rows.len(), 6);
        assert!(matches!(err, Some(Error::Line { .. })));
    }
}

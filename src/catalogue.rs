//! The vaccine catalogue shared by the record system (import validation) and the certificates
//! (SHC CVX codes, VDS-NC ICD-11 `des` and product `nam`). One table, so the two can never
//! disagree about a product.
//!
//! CVX codes are CDC's (CVX code set, COVID-19 related codes). Where no CVX code is confirmed
//! for the Japanese formulation, the entry uses **213** ("SARS-COV-2 (COVID-19) vaccine,
//! UNSPECIFIED") and says so in `cvx_confirmed`. ICD-11 codes are WHO's vaccine-type codes
//! (`XM0GQ8` RNA based, `XM9QW8` non-replicating viral vector, `XM5JC5` protein subunit), as in
//! the Japanese VDS-NC sample (`des: XM0GQ8`, `nam: COMIRNATY`).

use serde::Serialize;

/// CVX 213: SARS-CoV-2 vaccine, unspecified formulation.
pub const CVX_UNSPECIFIED: &str = "213";
/// ICD-11 code of the disease, COVID-19, for VDS-NC `dis`.
pub const ICD11_COVID19: &str = "RA01.0";

/// One vaccine product as recorded in VRS and printed on certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Product {
    /// The product code used in vaccination CSVs and the database.
    pub code: &'static str,
    /// Japanese product name (販売名).
    pub name_ja: &'static str,
    /// Product name for VDS-NC `nam` and English text.
    pub name_en: &'static str,
    /// Manufacturer, Japanese.
    pub manufacturer_ja: &'static str,
    /// Manufacturer, English.
    pub manufacturer_en: &'static str,
    /// CDC CVX code for the SHC Immunization.
    pub cvx: &'static str,
    /// False where no CVX code matches the Japanese formulation and 213 is used instead.
    pub cvx_confirmed: bool,
    /// ICD-11 vaccine code for VDS-NC `des`.
    pub icd11: &'static str,
}

const fn p(
    code: &'static str,
    name_ja: &'static str,
    name_en: &'static str,
    maker: (&'static str, &'static str),
    cvx: Option<&'static str>,
    icd11: &'static str,
) -> Product {
    Product {
        code,
        name_ja,
        name_en,
        manufacturer_ja: maker.0,
        manufacturer_en: maker.1,
        cvx: match cvx {
            Some(c) => c,
            None => CVX_UNSPECIFIED,
        },
        cvx_confirmed: cvx.is_some(),
        icd11,
    }
}

const PFIZER: (&str, &str) = ("ファイザー", "Pfizer/BioNTech");
const MODERNA: (&str, &str) = ("モデルナ", "Moderna");
const TAKEDA: (&str, &str) = ("武田薬品工業（ノババックス）", "Takeda/Novavax");
const ASTRAZENECA: (&str, &str) = ("アストラゼネカ", "AstraZeneca");
const JANSSEN: (&str, &str) = ("ヤンセンファーマ", "Janssen");

const MRNA: &str = "XM0GQ8";
const VECTOR: &str = "XM9QW8";
const SUBUNIT: &str = "XM5JC5";

/// Every product vaxcert knows.
pub const PRODUCTS: &[Product] = &[
    p(
        "pfizer-comirnaty",
        "コミナティ筋注",
        "COMIRNATY",
        PFIZER,
        Some("208"),
        MRNA,
    ),
    p(
        "pfizer-comirnaty-5-11",
        "コミナティ筋注５～１１歳用",
        "COMIRNATY (5-11)",
        PFIZER,
        Some("218"),
        MRNA,
    ),
    p(
        "pfizer-comirnaty-6m-4",
        "コミナティ筋注６ヵ月～４歳用",
        "COMIRNATY (6m-4)",
        PFIZER,
        Some("219"),
        MRNA,
    ),
    // BA.1 bivalent was never authorised in the US: no CVX code matches it.
    p(
        "pfizer-comirnaty-bivalent-ba1",
        "コミナティRTU筋注（２価：起源株/オミクロン株BA.1）",
        "COMIRNATY Bivalent (Original/Omicron BA.1)",
        PFIZER,
        None,
        MRNA,
    ),
    p(
        "pfizer-comirnaty-bivalent-ba45",
        "コミナティRTU筋注（２価：起源株/オミクロン株BA.4-5）",
        "COMIRNATY Bivalent (Original/Omicron BA.4-5)",
        PFIZER,
        Some("300"),
        MRNA,
    ),
    p(
        "moderna-spikevax",
        "スパイクバックス筋注",
        "SPIKEVAX",
        MODERNA,
        Some("207"),
        MRNA,
    ),
    p(
        "moderna-spikevax-bivalent-ba1",
        "スパイクバックス筋注（２価：起源株/オミクロン株BA.1）",
        "SPIKEVAX Bivalent (Original/Omicron BA.1)",
        MODERNA,
        None,
        MRNA,
    ),
    p(
        "moderna-spikevax-bivalent-ba45",
        "スパイクバックス筋注（２価：起源株/オミクロン株BA.4-5）",
        "SPIKEVAX Bivalent (Original/Omicron BA.4-5)",
        MODERNA,
        Some("229"),
        MRNA,
    ),
    p(
        "takeda-nuvaxovid",
        "ヌバキソビッド筋注",
        "NUVAXOVID",
        TAKEDA,
        Some("211"),
        SUBUNIT,
    ),
    p(
        "astrazeneca-vaxzevria",
        "バキスゼブリア筋注",
        "VAXZEVRIA",
        ASTRAZENECA,
        Some("210"),
        VECTOR,
    ),
    p(
        "janssen-jcovden",
        "ジェコビデン筋注",
        "JCOVDEN",
        JANSSEN,
        Some("212"),
        VECTOR,
    ),
];

/// Look a product up by its code.
pub fn product(code: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.code == code)
}

/// Look a product up by CVX code (the first that has it), for decoding certificates.
pub fn by_cvx(cvx: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.cvx == cvx && p.cvx_confirmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_unconfirmed_cvx_is_213() {
        for (i, a) in PRODUCTS.iter().enumerate() {
            for b in &PRODUCTS[i + 1..] {
                assert_ne!(a.code, b.code);
                if a.cvx_confirmed && b.cvx_confirmed {
                    assert_ne!(a.cvx, b.cvx, "{} and {}", a.code, b.code);
                }
            }
            if !a.cvx_confirmed {
                assert_eq!(a.cvx, "213");
            }
            assert!(a.icd11.starts_with("XM"));
        }
        assert_eq!(product("pfizer-comirnaty").unwrap().name_en, "COMIRNATY");
        assert_eq!(by_cvx("207").unwrap().code, "moderna-spikevax");
    }
}

-- vaxcert record system (DESIGN §4), SQLite. Same logical schema as migrations/postgres.
CREATE TABLE municipality (
    code  TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    kiosk BOOLEAN NOT NULL
);

CREATE TABLE resident (
    municipality TEXT NOT NULL REFERENCES municipality(code),
    atena        TEXT NOT NULL,
    family_kanji TEXT NOT NULL,
    given_kanji  TEXT NOT NULL,
    family_kana  TEXT NOT NULL,
    given_kana   TEXT NOT NULL,
    birth_date   TEXT NOT NULL,
    sex          TEXT NOT NULL,
    ken_no       TEXT NOT NULL,
    status       INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (municipality, atena)
);
CREATE INDEX resident_ken_no ON resident (municipality, ken_no);
CREATE INDEX resident_name_birth ON resident (municipality, birth_date, family_kanji);

-- Global and unpartitioned: one MyNumber belongs to one resident record across all municipalities.
CREATE TABLE resident_mynumber (
    hash         BLOB PRIMARY KEY,
    municipality TEXT NOT NULL,
    atena        TEXT NOT NULL,
    ciphertext   BLOB NOT NULL,
    UNIQUE (municipality, atena)
);

CREATE TABLE vaccination (
    municipality  TEXT NOT NULL,
    atena         TEXT NOT NULL,
    dose          INTEGER NOT NULL,
    date          TEXT NOT NULL,
    product       TEXT NOT NULL,
    lot           TEXT NOT NULL,
    venue         TEXT NOT NULL,
    physician     TEXT NOT NULL,
    vaccinated_in TEXT NOT NULL,
    coupon        TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (municipality, atena, dose)
);

-- Global and unpartitioned: certificate IDs are unique across all municipalities.
CREATE TABLE certificate_id (
    id           TEXT PRIMARY KEY,
    municipality TEXT NOT NULL
);

CREATE TABLE issuance (
    municipality   TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    atena          TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    passport       TEXT,
    key_id         TEXT NOT NULL,
    rid            TEXT NOT NULL,
    card_key_hash  BLOB,
    revoked_at     INTEGER,
    PRIMARY KEY (municipality, certificate_id)
);
CREATE INDEX issuance_resident ON issuance (municipality, atena, issued_at);

CREATE TABLE staff (
    municipality   TEXT NOT NULL REFERENCES municipality(code),
    login          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    totp_secret    BLOB NOT NULL,
    last_totp_step INTEGER NOT NULL,
    role           TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL,
    PRIMARY KEY (municipality, login)
);

-- Failed-login slow-down, keyed per login ('login:CODE/NAME') and per address ('addr:IP').
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    next_allowed INTEGER NOT NULL
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    municipality TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT,
    outcome      TEXT NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
);

CREATE TABLE audit_checkpoint (
    seq       INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL,
    at        INTEGER NOT NULL,
    signature BLOB NOT NULL
);

CREATE TABLE used_challenge (
    id         BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

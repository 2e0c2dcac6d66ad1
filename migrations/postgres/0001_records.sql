-- vaxcert record system (DESIGN §4), PostgreSQL. Same logical schema as migrations/sqlite.
-- resident, vaccination and issuance are LIST-partitioned by municipality code; the partitions
-- are made by `vaxcert records municipality add`. Every per-municipality table carries the code
-- in its primary key; certificate IDs and MyNumber hashes live in small global tables.
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
    status       BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (municipality, atena)
) PARTITION BY LIST (municipality);
CREATE INDEX resident_ken_no ON resident (municipality, ken_no);
CREATE INDEX resident_name_birth ON resident (municipality, birth_date, family_kanji);

CREATE TABLE resident_mynumber (
    hash         BYTEA PRIMARY KEY,
    municipality TEXT NOT NULL,
    atena        TEXT NOT NULL,
    ciphertext   BYTEA NOT NULL,
    UNIQUE (municipality, atena)
);

CREATE TABLE vaccination (
    municipality  TEXT NOT NULL,
    atena         TEXT NOT NULL,
    dose          BIGINT NOT NULL,
    date          TEXT NOT NULL,
    product       TEXT NOT NULL,
    lot           TEXT NOT NULL,
    venue         TEXT NOT NULL,
    physician     TEXT NOT NULL,
    vaccinated_in TEXT NOT NULL,
    coupon        TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (municipality, atena, dose)
) PARTITION BY LIST (municipality);

CREATE TABLE certificate_id (
    id           TEXT PRIMARY KEY,
    municipality TEXT NOT NULL
);

CREATE TABLE issuance (
    municipality   TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    atena          TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    channel        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    passport       TEXT,
    key_id         TEXT NOT NULL,
    rid            TEXT NOT NULL,
    card_key_hash  BYTEA,
    revoked_at     BIGINT,
    PRIMARY KEY (municipality, certificate_id)
) PARTITION BY LIST (municipality);
CREATE INDEX issuance_resident ON issuance (municipality, atena, issued_at);

CREATE TABLE staff (
    municipality   TEXT NOT NULL REFERENCES municipality(code),
    login          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    totp_secret    BYTEA NOT NULL,
    last_totp_step BIGINT NOT NULL,
    role           TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL,
    PRIMARY KEY (municipality, login)
);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    next_allowed BIGINT NOT NULL
);

CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    municipality TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT,
    outcome      TEXT NOT NULL,
    prev_hash    BYTEA NOT NULL,
    hash         BYTEA NOT NULL
);

CREATE TABLE audit_checkpoint (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    at        BIGINT NOT NULL,
    signature BYTEA NOT NULL
);

CREATE TABLE used_challenge (
    id         BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

//! Shared set-up: dev evidence built in-process, and virtual cards in real vpcd slots.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vaxcert::card::challenge::{Binding, Challenges, sha256_digest_info};
use vaxcert::card::reader::Reader;
use vaxcert::card::{CardEvidence, CardFiles};
use vaxcert::card_sim::Persona;
use vaxcert::card_sim::image::CardImage;
use vaxcert::clock::UnixTime;
use vaxcert::dev::{self, card::DevIssuer};
use vaxcert::domain::{Channel, Kind, MunicipalityCode};

pub const VECTORS: &str = "../shared/vectors/myna-card-test-card";
pub const NOW: UnixTime = UnixTime(1_800_000_000);

pub fn persona_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("certs/dev/personas/{name}.toml"))
}

pub fn persona(name: &str) -> Persona {
    Persona::load(&persona_path(name)).unwrap()
}

pub fn image(name: &str) -> CardImage {
    let p = persona(name);
    let key = dev::card::load_rsa_key(&p.card_key_path()).unwrap();
    CardImage::build(&p, &DevIssuer::load().unwrap(), key)
}

pub fn binding() -> Binding {
    Binding {
        channel: Channel::Kiosk,
        terminal_id: "kiosk-test-01".into(),
        municipality: MunicipalityCode::parse("131016").unwrap(),
        kind: Kind::Domestic,
    }
}

pub fn challenges() -> Challenges {
    Challenges::new(dev::challenge_key().unwrap(), 120)
}

/// Evidence as a kiosk would send it: the persona's files and its signature over `binding`.
pub fn evidence(name: &str, binding: &Binding) -> CardEvidence {
    let img = image(name);
    let challenge = challenges().issue(NOW);
    let signature = img
        .sign_digest_info(&sha256_digest_info(&binding.digest(&challenge)))
        .unwrap();
    CardEvidence {
        files: img.card_files(),
        challenge,
        challenge_signature: signature,
    }
}

pub fn test_card_files() -> CardFiles {
    let r = |n: &str| std::fs::read(format!("{VECTORS}/{n}")).unwrap();
    CardFiles {
        ef0001: r("text-0001-physical.bin"),
        ef0002: r("text-0002.bin"),
        ef0003: r("text-0003.bin"),
        ef0004: r("text-0004.bin"),
        ef0007: r("text-0007.bin"),
    }
}

pub fn vaxcert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Exclusive use of one vpcd reader slot for the life of the value: a file lock in the system
/// temp folder, so it holds across nextest's test processes and across checkouts.
pub struct Slot {
    pub n: u8,
    _lock: File,
}

fn require_pcscd() {
    assert!(
        Path::new("/run/pcscd/pcscd.comm").exists(),
        "pcscd is not running: run the tests through `./vx test`, which starts pcscd with vpcd"
    );
}

pub fn slot() -> Slot {
    require_pcscd();
    let dir = std::env::temp_dir();
    loop {
        for n in 0..2u8 {
            let f = File::create(dir.join(format!("vaxcert-vpcd-slot-{n}.lock"))).unwrap();
            if f.try_lock().is_ok() {
                return Slot { n, _lock: f };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Slot {
    pub fn reader_name(&self) -> String {
        format!("Virtual PCD 00 {:02}", self.n)
    }

    pub fn reader(&self) -> Reader {
        Reader::open(Some(&self.reader_name())).unwrap()
    }
}

/// A persona's virtual card in a slot; pulled out on drop.
pub struct SimCard {
    pub slot: Slot,
    child: Child,
    pub log: PathBuf,
}

impl SimCard {
    pub fn insert(persona: &str) -> Self {
        Self::insert_with(persona, &[])
    }

    pub fn insert_with(persona: &str, extra: &[&str]) -> Self {
        let slot = slot();
        let reader = slot.reader();
        let _ = reader.wait(false, Duration::from_secs(5));
        let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("card-sim-{persona}-{}.log", std::process::id()));
        let spawn = || {
            // The card pulls itself out when this process dies and the pipe closes.
            vaxcert()
                .args([
                    "card-sim",
                    "--until-stdin-closes",
                    "--slot",
                    &slot.n.to_string(),
                ])
                .arg("--persona")
                .arg(persona_path(persona))
                .args(extra)
                .env("VAXCERT_LOG", "trace")
                .stdin(Stdio::piped())
                .stdout(File::create(&log).unwrap())
                .stderr(File::create(log.with_extension("err")).unwrap())
                .spawn()
                .unwrap()
        };
        // pcscd's vpcd driver sometimes misses the removal of a card that vanished mid-APDU
        // and then ignores the next connection; a fresh connection recovers it.
        let mut child = spawn();
        for _ in 0..4 {
            if reader.wait(true, Duration::from_secs(3)).is_ok() {
                return SimCard { slot, child, log };
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(500));
            child = spawn();
        }
        let card = SimCard { slot, child, log };
        let ss = Command::new("ss")
            .arg("-tnp")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        panic!(
            "the virtual card did not appear\n{}\n{}",
            card.output(),
            String::from_utf8_lossy(&ss)
        );
    }

    pub fn reader(&self) -> Reader {
        self.slot.reader()
    }

    /// Everything the virtual card process printed.
    pub fn output(&self) -> String {
        let a = std::fs::read_to_string(&self.log).unwrap_or_default();
        let b = std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        a + &b
    }
}

impl Drop for SimCard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.slot.reader().wait(false, Duration::from_secs(10));
    }
}

//! The real ActiveMQ Java client (Debian's libactivemq-java) for the OpenWire tests:
//! compiling the test programs once, and the `java` command that runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The client's jars (protocols.md §4), the whole classpath besides the compiled classes.
pub const JARS: [&str; 6] = [
    "/usr/share/java/activemq-client.jar",
    "/usr/share/java/geronimo-jms_1.1_spec.jar",
    "/usr/share/java/geronimo-j2ee-management-1.1-spec.jar",
    "/usr/share/java/hawtbuf.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
];

/// What every `java` run gets before `-cp`: a small heap, the quick JIT, quiet logging.
const JAVA_FLAGS: [&str; 3] = ["-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"];

pub struct Java {
    pub classpath: String,
}

/// Compiles `sources` (paths under the crate root) into `CARGO_TARGET_TMPDIR/<dir>`.
/// Without javac or a jar: `None` and a SKIPPED note naming `what` is skipped and what is
/// missing, except under CI (`CI` set), where that is a failure. Callers keep the result
/// in a `OnceLock`, so this runs once per test binary.
pub fn compile(dir: &str, sources: &[&str], what: &str) -> Option<Java> {
    let missing: Vec<&str> = JARS.iter().copied().filter(|j| !Path::new(j).exists()).collect();
    let javac = Command::new("javac").arg("-version").output().is_ok_and(|o| o.status.success());
    if !missing.is_empty() || !javac {
        let why = format!(
            "needs javac and Debian's libactivemq-java (apt-get install openjdk-17-jdk-headless \
             libactivemq-java); missing: {}{}",
            if javac { "" } else { "javac " },
            missing.join(" ")
        );
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the OpenWire tests with the real Java client: {why}");
        }
        eprintln!("SKIPPED: {what} {why}");
        return None;
    }
    let classes = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&classes).unwrap();
    let classpath = JARS.join(":");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(&classpath)
        .args(sources.iter().map(|s| root.join(s)))
        .output()
        .unwrap();
    assert!(out.status.success(), "javac failed:\n{}", String::from_utf8_lossy(&out.stderr));
    Some(Java { classpath: format!("{}:{classpath}", classes.display()) })
}

impl Java {
    /// `java <flags> -cp <classpath> class args...`.
    pub fn command(&self, class: &str, args: &[&str]) -> Command {
        let mut c = Command::new("java");
        self.java_args(&mut c, class, args);
        c
    }

    /// The same under coreutils' `timeout`, which kills it after `secs` seconds.
    pub fn command_with_timeout(&self, secs: u32, class: &str, args: &[&str]) -> Command {
        let mut c = Command::new("timeout");
        c.arg(secs.to_string()).arg("java");
        self.java_args(&mut c, class, args);
        c
    }

    fn java_args(&self, c: &mut Command, class: &str, args: &[&str]) {
        c.args(JAVA_FLAGS).arg("-cp").arg(&self.classpath).arg(class).args(args);
    }
}

//! A Python with the packages the tests' real clients need (`websockets`), in a virtual
//! environment under the target directory, made on first use.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Serialises the making of the environment among the tests of one binary (cargo runs
/// test binaries one at a time).
static MAKING: Mutex<()> = Mutex::new(());

/// The Python interpreter of `target/test-venv`, with `packages` installed from pip (made
/// and installed on first use). Panics with the command's output if pip fails.
pub fn python_with(packages: &[&str]) -> PathBuf {
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test binary> -> target/test-venv
    let target = exe.ancestors().nth(3).expect("target dir");
    let venv = target.join("test-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| {
            !Command::new(&python)
                .args(["-c", &format!("import {package}")])
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(&missing));
    }
    python
}

fn run(command: &mut Command) {
    let output = command.output().expect("run python3");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

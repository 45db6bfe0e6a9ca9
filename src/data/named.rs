//! Data sets the command-line runner finds by name, wherever it is run from: the MNIST bundle
//! (`mnist`), full MNIST (`mnist-full`) and Fashion-MNIST (`fashion-mnist`).
//!
//! Where they are looked for ([`locations`]):
//! - `CABS_DATA_DIR`, when set, and only there: `$CABS_DATA_DIR/mnist.bin` and
//!   `$CABS_DATA_DIR/<set>/…` (the folder `scripts/fetch-data.sh` fills when the variable is set).
//! - Otherwise the repository the binary was built in (an ancestor folder of the executable
//!   holding `Cargo.toml` and `www/`, e.g. two levels above `target/release/cabs`), then the
//!   current directory if it is such a repository: `www/data/mnist.bin` and `data/<set>/…`.
//!
//! A set's folder holds four IDX files, raw or gzip-compressed ([`IDX_FILES`], optionally with
//! `.gz`). Reading them is [`super::idx`]'s job; this module only decides where, and words the
//! error that says which script makes a missing file. The paths are decided natively only: the
//! page hands its files over itself.

#[cfg(not(target_arch = "wasm32"))]
use super::{idx, Dataset};
#[cfg(not(target_arch = "wasm32"))]
use crate::error::{CabsError, Result};
use std::path::{Path, PathBuf};

/// The environment variable naming the data folder.
pub const DATA_DIR_VAR: &str = "CABS_DATA_DIR";

/// File names of a set's four IDX files: training images and labels, then test images and labels.
pub const IDX_FILES: [&str; 4] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The bundle's file name in `CABS_DATA_DIR`.
pub const BUNDLE_FILE: &str = "mnist.bin";

/// A data set read from a folder of IDX files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSet {
    /// Its `--data` name, also the name of its folder.
    pub name: &'static str,
    /// Its name in the start line and in reports.
    pub title: &'static str,
}

/// The sets `scripts/fetch-data.sh` lays out.
pub const FILE_SETS: [FileSet; 2] =
    [FileSet { name: "mnist-full", title: "MNIST (full)" }, FileSet { name: "fashion-mnist", title: "Fashion-MNIST" }];

impl FileSet {
    pub fn by_name(name: &str) -> Option<FileSet> {
        FILE_SETS.iter().copied().find(|s| s.name == name)
    }
}

/// One place named data may be in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Where this place comes from, for messages: "CABS_DATA_DIR=/x", "the repository /r (found
    /// from the binary)", "the current directory /c".
    pub origin: String,
    /// The MNIST bundle's path there.
    pub bundle: PathBuf,
    /// The folder holding one sub-folder per [`FileSet`].
    pub sets: PathBuf,
    /// Whether this is `CABS_DATA_DIR` (messages then say how to fill that folder).
    pub from_env: bool,
}

/// Whether `dir` is this project's repository: its `Cargo.toml` beside `www/`.
pub fn is_repo_root(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("www").is_dir()
}

/// The nearest ancestor of `exe` that is the repository, e.g. `/r` for `/r/target/release/cabs`.
pub fn repo_of(exe: &Path) -> Option<PathBuf> {
    exe.ancestors().skip(1).find(|d| is_repo_root(d)).map(Path::to_path_buf)
}

fn repo_location(root: &Path, origin: String) -> Location {
    Location { origin, bundle: root.join("www").join("data").join("mnist.bin"), sets: root.join("data"), from_env: false }
}

/// The places to look, in order, from the value of `CABS_DATA_DIR`, the executable's path and
/// the current directory (passed in, so that tests need not change the process's own). Never
/// empty: with nothing found, the current directory's `www/data/mnist.bin` and `data/` are
/// named, so that the error message says what was tried.
pub fn locations(data_dir: Option<&std::ffi::OsStr>, exe: Option<&Path>, cwd: Option<&Path>) -> Vec<Location> {
    if let Some(dir) = data_dir.filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return vec![Location {
            origin: format!("{DATA_DIR_VAR}={}", dir.display()),
            bundle: dir.join(BUNDLE_FILE),
            sets: dir,
            from_env: true,
        }];
    }
    let mut out = Vec::new();
    if let Some(root) = exe.and_then(repo_of) {
        out.push(repo_location(&root, format!("the repository {} (found from the binary)", root.display())));
    }
    if let Some(cwd) = cwd {
        let same = out.first().is_some_and(|l: &Location| cwd.join("www").join("data").join("mnist.bin") == l.bundle);
        if !same && (is_repo_root(cwd) || out.is_empty()) {
            out.push(repo_location(cwd, format!("the current directory {}", cwd.display())));
        }
    }
    if out.is_empty() {
        out.push(repo_location(Path::new("."), "the current directory".into()));
    }
    out
}

/// [`locations`] for this process: its environment, executable and working directory.
#[cfg(not(target_arch = "wasm32"))]
pub fn here() -> Vec<Location> {
    let exe = std::env::current_exe().ok().map(|p| p.canonicalize().unwrap_or(p));
    locations(std::env::var_os(DATA_DIR_VAR).as_deref(), exe.as_deref(), std::env::current_dir().ok().as_deref())
}

#[cfg(not(target_arch = "wasm32"))]
fn tried(paths: impl Iterator<Item = PathBuf>) -> String {
    paths.map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The path of the MNIST bundle: the first of `locs` where it exists, or an error naming every
/// path tried and how to make the file.
#[cfg(not(target_arch = "wasm32"))]
pub fn find_bundle(locs: &[Location]) -> Result<PathBuf> {
    if let Some(l) = locs.iter().find(|l| l.bundle.is_file()) {
        return Ok(l.bundle.clone());
    }
    Err(CabsError::Io(match locs {
        [l] if l.from_env => format!(
            "the MNIST bundle is not in {}: {} does not exist (copy the www/data/mnist.bin that `bash scripts/setup.sh` makes \
             there, or unset {DATA_DIR_VAR})",
            l.origin,
            l.bundle.display()
        ),
        _ => format!(
            "the MNIST bundle is missing: tried {} (run `bash scripts/setup.sh` in the repository to make it, set {DATA_DIR_VAR} \
             to a folder holding {BUNDLE_FILE}, or give --mnist-bundle PATH)",
            tried(locs.iter().map(|l| l.bundle.clone()))
        ),
    }))
}

/// The folder of `set`: the first of `locs` where it exists, or an error naming every path
/// tried and the script that fetches it.
#[cfg(not(target_arch = "wasm32"))]
pub fn find_set(locs: &[Location], set: FileSet) -> Result<PathBuf> {
    if let Some(l) = locs.iter().find(|l| l.sets.join(set.name).is_dir()) {
        return Ok(l.sets.join(set.name));
    }
    Err(CabsError::Io(match locs {
        [l] if l.from_env => format!(
            "{} ('{}') is not in {}: {} does not exist (run `{DATA_DIR_VAR}={} bash scripts/fetch-data.sh` in the repository \
             to fetch it there, or unset {DATA_DIR_VAR})",
            set.title,
            set.name,
            l.origin,
            l.sets.join(set.name).display(),
            l.sets.display()
        ),
        _ => format!(
            "{} ('{}') is missing: tried {} (run `bash scripts/fetch-data.sh` in the repository to fetch it, or set \
             {DATA_DIR_VAR} to a folder holding {}/)",
            set.title,
            set.name,
            tried(locs.iter().map(|l| l.sets.join(set.name))),
            set.name
        ),
    }))
}

/// A file of a set's folder: the raw name, or the same with `.gz`.
#[cfg(not(target_arch = "wasm32"))]
fn set_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

/// Read `set` from its folder `dir` (see [`find_set`]): four IDX files, each read no further
/// than its header declares. A missing file names the script that fetches the set.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_set(dir: &Path, set: FileSet) -> Result<Dataset> {
    let mut files = Vec::with_capacity(4);
    for name in IDX_FILES {
        let path = set_file(dir, name).ok_or_else(|| {
            CabsError::Io(format!(
                "{} ('{}'): {} is missing (run `bash scripts/fetch-data.sh {}` to fetch the set again)",
                set.title,
                set.name,
                dir.join(name).display(),
                set.name
            ))
        })?;
        files.push((path.display().to_string(), idx::read_path(&path)?));
    }
    let f = |i: usize| (files[i].0.as_str(), files[i].1.as_slice());
    let mut ds = idx::dataset_named([f(0), f(1)], Some([f(2), f(3)]))?;
    ds.name = set.title.to_string();
    Ok(ds)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cabs-named-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_variable_is_the_only_place_when_set() {
        let l = locations(Some(OsStr::new("/d")), Some(Path::new("/r/target/release/cabs")), Some(Path::new("/c")));
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].bundle.as_path(), l[0].sets.as_path(), l[0].from_env), (Path::new("/d/mnist.bin"), Path::new("/d"), true));
        // An empty value counts as unset.
        let l = locations(Some(OsStr::new("")), None, Some(Path::new("/c")));
        assert_eq!(l[0].bundle, Path::new("/c/www/data/mnist.bin"));
    }

    #[test]
    fn the_repository_is_found_above_the_binary_and_then_the_working_directory() {
        let repo = scratch("repo");
        std::fs::write(repo.join("Cargo.toml"), "").unwrap();
        std::fs::create_dir_all(repo.join("www")).unwrap();
        std::fs::create_dir_all(repo.join("target/release")).unwrap();
        let exe = repo.join("target/release/cabs");
        assert_eq!(repo_of(&exe).as_deref(), Some(repo.as_path()));
        let elsewhere = scratch("elsewhere");
        let l = locations(None, Some(&exe), Some(&elsewhere));
        // Another working directory that is no repository adds nothing.
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].bundle, repo.join("www/data/mnist.bin"));
        assert_eq!(l[0].sets, repo.join("data"));
        // Without a repository above the binary, the working directory is named.
        let l = locations(None, Some(&elsewhere.join("cabs")), Some(&elsewhere));
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].bundle, elsewhere.join("www/data/mnist.bin"));
        // Without Cargo.toml it is no repository.
        std::fs::remove_file(repo.join("Cargo.toml")).unwrap();
        assert_eq!(repo_of(&exe), None);
        std::fs::remove_dir_all(&repo).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[test]
    fn missing_data_names_the_variable_the_path_and_the_script() {
        let empty = scratch("empty");
        let env = locations(Some(empty.as_os_str()), None, None);
        let e = find_bundle(&env).unwrap_err().to_string();
        assert!(e.contains("CABS_DATA_DIR") && e.contains(&empty.join("mnist.bin").display().to_string()) && e.contains("setup.sh"), "{e}");
        let full = FileSet::by_name("mnist-full").unwrap();
        let e = find_set(&env, full).unwrap_err().to_string();
        assert!(e.contains("CABS_DATA_DIR") && e.contains(&empty.join("mnist-full").display().to_string()), "{e}");
        assert!(e.contains("scripts/fetch-data.sh"), "{e}");
        let repo = locations(None, None, Some(&empty));
        let e = find_set(&repo, full).unwrap_err().to_string();
        assert!(e.contains(&empty.join("data/mnist-full").display().to_string()) && e.contains("scripts/fetch-data.sh"), "{e}");
        // A folder with a file missing names that file and the script.
        std::fs::create_dir_all(empty.join("mnist-full")).unwrap();
        let dir = find_set(&env, full).unwrap();
        let e = load_set(&dir, full).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte") && e.contains("fetch-data.sh mnist-full"), "{e}");
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn a_set_is_read_from_raw_or_gzip_files_with_its_title() {
        use std::io::Write;
        let dir = scratch("set");
        let files = [
            idx::encode(&[3, 2, 2], &[0, 255, 0, 255, 1, 2, 3, 4, 9, 9, 9, 9]),
            idx::encode(&[3], &[1, 0, 2]),
            idx::encode(&[1, 2, 2], &[7, 7, 7, 7]),
            idx::encode(&[1], &[2]),
        ];
        for (i, (name, bytes)) in IDX_FILES.iter().zip(&files).enumerate() {
            if i == 2 {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(bytes).unwrap();
                std::fs::write(dir.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        let ds = load_set(&dir, FileSet::by_name("fashion-mnist").unwrap()).unwrap();
        assert_eq!(ds.name, "Fashion-MNIST");
        assert_eq!((ds.train.len(), ds.test.len(), ds.dim), (3, 1, 4));
        assert_eq!(ds.train.labels, vec![1, 0, 2]);
        assert_eq!(ds.test.feature(4, 0, 3), 7.0 * (1.0f32 / 255.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

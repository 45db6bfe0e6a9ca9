//! The data set `--data` names, loaded for `train`, `bench`, `reproduce` and `plan`: a built-in
//! one, a named set of files (found from any working directory), IDX files or a CIFAR-10 folder.
//! Not here: parsing the flags (`args.rs`).

use crate::args::Args;
use crate::error::{CliError, CliResult};

fn read(path: &std::path::Path) -> CliResult<Vec<u8>> {
    // Never more than the file's header declares: `/dev/zero` is refused, not read forever.
    cabs::data::files::read_path(path).map_err(|e| match e {
        cabs::CabsError::Io(m) => CliError::Io(m),
        e => e.into(),
    })
}

/// The data set named by `--data`: a built-in one, a named set of files (the MNIST bundle,
/// `mnist-full`, `fashion-mnist`: found from any working directory, see
/// [`cabs::data::named`]), IDX files or a CIFAR-10 folder.
pub fn dataset(a: &Args) -> CliResult<cabs::data::Dataset> {
    use cabs::data::named;
    let data = a.settings.data.as_str();
    if let Some(set) = named::FileSet::by_name(data) {
        let dir = named::find_set(&named::here(), set)?;
        return Ok(named::load_set(&dir, set)?);
    }
    if let Some(list) = data.strip_prefix("idx:") {
        let paths: Vec<&str> = list.split(',').collect();
        if paths.len() != 2 && paths.len() != 4 {
            return Err(CliError::usage("--data idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS]"));
        }
        let files = paths.iter().map(|p| read(p.as_ref())).collect::<Result<Vec<_>, _>>()?;
        let test = (files.len() == 4).then(|| (files[2].as_slice(), files[3].as_slice()));
        return Ok(cabs::data::idx::dataset(&files[0], &files[1], test)?);
    }
    if let Some(dir) = data.strip_prefix("cifar10:") {
        let dir = std::path::Path::new(dir);
        let train = cabs::data::cifar::TRAIN_FILES.iter().map(|f| Ok((*f, read(&dir.join(f))?))).collect::<CliResult<Vec<_>>>()?;
        let test = read(&dir.join(cabs::data::cifar::TEST_FILE))?;
        let named: Vec<(&str, &[u8])> = train.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        return Ok(cabs::data::cifar::dataset(&named, (cabs::data::cifar::TEST_FILE, &test))?);
    }
    if cabs::data::DataName::parse(data).is_err() {
        return Err(CliError::usage(format!(
            "unknown data set '{data}': use mnist, mnist-full, fashion-mnist, spirals, moons, blobs, idx:FILES or cifar10:DIR"
        )));
    }
    let bytes = if a.settings.data == "mnist" {
        let path = match &a.mnist_bundle {
            Some(p) => p.clone(),
            None => named::find_bundle(&named::here())?,
        };
        Some(cabs::data::bundle::read_path(&path).map_err(|e| match e {
            cabs::CabsError::Io(m) if a.mnist_bundle.is_some() => {
                CliError::Io(format!("{m} (run `bash scripts/setup.sh` to create www/data/mnist.bin)"))
            }
            e => e.into(),
        })?)
    } else {
        None
    };
    Ok(a.settings.dataset(bytes.as_deref())?)
}

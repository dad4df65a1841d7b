//! `datasets/<dataset>/pipeline.json` settings (`DatasetSettings::parse`): settings that parse
//! write out and parse again to the same settings and parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeline_trigger::DatasetSettings;

const KEY: &str = "datasets/fuzz/pipeline.json";

fuzz_target!(|data: &[u8]| {
    let Ok(settings) = DatasetSettings::parse(KEY, data) else {
        return;
    };
    let parameters = settings.parameters();
    let written = match serde_json::to_vec(&settings) {
        Ok(written) => written,
        Err(error) => panic!("accepted settings do not serialize: {error}"),
    };
    match DatasetSettings::parse(KEY, &written) {
        Ok(again) => {
            assert_eq!(again, settings, "settings changed through JSON");
            assert_eq!(again.parameters(), parameters, "parameters changed");
        }
        Err(error) => panic!("settings written back are refused: {error}"),
    }
});

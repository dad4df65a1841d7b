//! `mmp dead-letters`: the events the bus gave up on, with the function and the last error.
#![allow(clippy::unwrap_used)]

mod harness;

use harness::World;
use mmp::home::Home;
use mmp::system::System;

#[test]
fn dead_letters_are_listed_with_their_function_and_last_error() {
    let world = World::new();
    assert_eq!(
        world.json(&["dead-letters", "--json"]),
        serde_json::json!([])
    );
    assert!(world.ok(&["dead-letters"]).contains("no dead letters"));

    let home = Home::new(world.data_dir()).unwrap();
    let database = home.database();
    drop(System::open(home, "mmp").unwrap());
    rusqlite::Connection::open(database)
        .unwrap()
        .execute_batch(
            "INSERT INTO events (target, event, created_ms, attempts, last_error, dead)
                 VALUES ('model-deployer', '{}', 1, 8, 'no such version', 1);
             INSERT INTO events (target, event, created_ms) VALUES ('metrics-reporter', '{}', 2);",
        )
        .unwrap();

    let dead = world.json(&["dead-letters", "--json"]);
    assert_eq!(
        dead,
        serde_json::json!([{
            "id": 1, "target": "model-deployer", "attempts": 8, "last_error": "no such version"
        }])
    );
    let table = world.ok(&["dead-letters"]);
    assert!(
        table.contains("model-deployer") && table.contains("no such version"),
        "{table}"
    );
    assert!(!table.contains("metrics-reporter"), "{table}");
}

//! Generated code: the Rust side of `wit/torch-remote.wit` (world `guest`), made by wit-bindgen.

wit_bindgen::generate!({
    path: "../wit",
    world: "guest",
    additional_derives: [PartialEq],
});

#[allow(warnings)]
mod bindings {
    wit_bindgen::generate!({ path: "../wit", world: "guest", debug: true });
}
struct C;
impl bindings::exports::torch_remote::ops::dispatch::Guest for C {
    fn run(_name: String, _overload: String, _args: Vec<bindings::torch_remote::ops::types::Arg>) -> Result<Vec<bindings::torch_remote::ops::types::Output>, bindings::torch_remote::ops::types::OpError> { Ok(vec![]) }
}
bindings::export!(C with_types_in bindings);

//! Filter forms: a select that applies its form as soon as it is changed.

use leptos::prelude::*;

/// Submits the surrounding form, so choosing a filter applies it at once.
pub fn submit_enclosing_form(ev: leptos::ev::Event) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|el| el.closest("form").ok().flatten())
            .and_then(|f| f.dyn_into::<leptos::web_sys::HtmlFormElement>().ok());
        if let Some(form) = form {
            let _ = form.request_submit();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// A labelled filter select that applies itself when changed; "" means no filter.
#[component]
pub fn FilterSelect(
    name: &'static str,
    label: &'static str,
    any: &'static str,
    choices: Vec<(String, String)>,
    current: Option<String>,
) -> impl IntoView {
    let options = choices
        .into_iter()
        .map(|(value, text)| {
            let is = current.as_deref() == Some(value.as_str());
            view! { <option value=value selected=is>{text}</option> }
        })
        .collect_view();
    view! {
        <label>
            <span>{label}</span>
            <select name=name on:change=submit_enclosing_form>
                <option value="">{any}</option>
                {options}
            </select>
        </label>
    }
}

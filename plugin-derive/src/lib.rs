//! Derives for mlhost plugins, re-exported by `mlhost-plugin-api`:
//! `#[derive(Params)]` turns a struct into a parameter schema plus typed
//! values, `#[derive(Choice)]` turns an enum of unit variants into a choice.
//! See `mlhost_plugin_api::ParamSet` for the attributes.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{Data, DeriveInput, Error, Expr, Fields, LitStr, parse_macro_input};

/// `#[derive(Params)]` on a struct with named fields: one parameter per
/// field, configured with `#[param(default = .., range = LO..=HI, min = ..,
/// max = .., log, doc = "..", name = "..")]` (doc comments describe too).
#[proc_macro_derive(Params, attributes(param))]
pub fn derive_params(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    params(&input).unwrap_or_else(Error::into_compile_error).into()
}

/// `#[derive(Choice)]` on an enum of unit variants: a choice parameter whose
/// names are the variants in kebab-case (`#[choice(name = "..")]` renames).
#[proc_macro_derive(Choice, attributes(choice))]
pub fn derive_choice(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    choice(&input).unwrap_or_else(Error::into_compile_error).into()
}

/// What `#[param(..)]` and doc comments say about one field.
#[derive(Default)]
struct FieldAttrs {
    name: Option<String>,
    default: Option<Expr>,
    min: Option<Expr>,
    max: Option<Expr>,
    log: bool,
    doc: Option<String>,
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut a = FieldAttrs::default();
    let mut docs = Vec::new();
    for attr in &field.attrs {
        if attr.path().is_ident("doc") {
            if let syn::Meta::NameValue(nv) = &attr.meta
                && let Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value
            {
                docs.push(s.value().trim().to_owned());
            }
            continue;
        }
        if !attr.path().is_ident("param") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "log" => a.log = true,
                "default" => a.default = Some(meta.value()?.parse()?),
                "min" => a.min = Some(meta.value()?.parse()?),
                "max" => a.max = Some(meta.value()?.parse()?),
                "doc" => a.doc = Some(meta.value()?.parse::<LitStr>()?.value()),
                "name" => a.name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "range" => {
                    let range: syn::ExprRange = meta.value()?.parse()?;
                    if !matches!(range.limits, syn::RangeLimits::Closed(_)) {
                        return Err(meta.error("use an inclusive range: `range = 1..=100`"));
                    }
                    a.min = range.start.map(|e| *e);
                    a.max = range.end.map(|e| *e);
                }
                _ => {
                    return Err(
                        meta.error("unknown key; use default, range, min, max, log, doc or name")
                    );
                }
            }
            Ok(())
        })?;
    }
    if a.doc.is_none() && !docs.is_empty() {
        a.doc = Some(docs.join(" "));
    }
    Ok(a)
}

fn params(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(Error::new_spanned(
            input,
            "#[derive(Params)] needs a struct with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(Error::new_spanned(input, "#[derive(Params)] needs named fields"));
    };
    let api = quote!(::mlhost_plugin_api);
    let mut specs = Vec::new();
    let mut reads = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let ty = &field.ty;
        let a = field_attrs(field)?;
        let name = a.name.clone().unwrap_or_else(|| ident.to_string());
        let default = match &a.default {
            Some(e) => quote!(#e),
            None => quote!(<#ty as ::std::default::Default>::default()),
        };
        let min = a.min.as_ref().map(|e| quote!(let spec = spec.min((#e) as f64);));
        let max = a.max.as_ref().map(|e| quote!(let spec = spec.max((#e) as f64);));
        let log = a.log.then(|| quote!(let spec = spec.log_scale();));
        let doc = a.doc.as_ref().map(|d| quote!(let spec = spec.describe(#d);));
        specs.push(quote! {{
            let spec = <#ty as #api::ParamKind>::spec(#name, #default);
            #min #max #log #doc
            spec
        }});
        reads.push(quote!(#ident: <#ty as #api::ParamKind>::read(params, #name)?,));
    }
    let ident = &input.ident;
    let (imp, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #imp #api::ParamSet for #ident #ty_generics #where_clause {
            fn schema() -> ::std::vec::Vec<#api::ParamSpec> {
                ::std::vec![#(#specs),*]
            }
            fn from_params(params: &#api::Params) -> #api::Result<Self> {
                ::std::result::Result::Ok(Self { #(#reads)* })
            }
        }
    })
}

/// `FooBar` -> `foo-bar`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn choice(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Enum(data) = &input.data else {
        return Err(Error::new_spanned(input, "#[derive(Choice)] needs an enum of unit variants"));
    };
    let mut idents = Vec::new();
    let mut names = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(Error::new_spanned(v, "a choice variant carries no data"));
        }
        let mut name = kebab(&v.ident.to_string());
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("choice")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    name = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("unknown key; use name = \"..\""))
                }
            })?;
        }
        idents.push(&v.ident);
        names.push(name);
    }
    if idents.is_empty() {
        return Err(Error::new_spanned(input, "a choice needs at least one variant"));
    }
    let ident = &input.ident;
    let api = quote!(::mlhost_plugin_api);
    Ok(quote! {
        impl #api::Choice for #ident {
            const NAMES: &'static [&'static str] = &[#(#names),*];
            fn name(&self) -> &'static str {
                match self { #(Self::#idents => #names,)* }
            }
            fn from_name(name: &str) -> ::std::option::Option<Self> {
                match name { #(#names => ::std::option::Option::Some(Self::#idents),)* _ => ::std::option::Option::None }
            }
        }
        impl #api::ParamKind for #ident {
            fn spec(name: &str, default: Self) -> #api::ParamSpec {
                #api::ParamSpec::choice(name, #api::Choice::name(&default), <Self as #api::Choice>::NAMES)
            }
            fn read(params: &#api::Params, name: &str) -> #api::Result<Self> {
                #api::choice_from(params, name)
            }
        }
    })
}

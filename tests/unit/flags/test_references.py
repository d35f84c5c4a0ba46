from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from relgate.errors import BadInput
from relgate.flags.references import (
    Reference,
    ReferenceRules,
    file_references,
    find_references,
    python_references,
    text_references,
)


def keys_and_lines(found: list[Reference] | None) -> list[tuple[str, int]]:
    assert found is not None
    return [(r.key, r.line) for r in found]


def py(source: str, rules: ReferenceRules | None = None) -> list[tuple[str, int]]:
    return keys_and_lines(python_references(textwrap.dedent(source), "app.py", rules))


def text(source: str, path: str, rules: ReferenceRules | None = None) -> list[tuple[str, int]]:
    return keys_and_lines(text_references(textwrap.dedent(source), path, rules))


# --------------------------------------------------------------------------- Python


def test_python_sdk_calls_through_any_receiver_are_references() -> None:
    source = """\
        from UnleashClient import UnleashClient
        from relgate.sdk import FlagClient

        unleash = UnleashClient(url="http://127.0.0.1:4242/api", app_name="shop")
        client = FlagClient("http://127.0.0.1:8700", "t", "shop")

        def checkout(user):
            if unleash.is_enabled("express-checkout-v2", {"userId": user.id}):
                return "v2"
            colour = client.variant("button-colour", {"userId": user.id}).name
            price = self.flags.get_variant("pricing-page")
            return colour, price
        """
    assert py(source) == [
        ("express-checkout-v2", 8),
        ("button-colour", 10),
        ("pricing-page", 11),
    ]


def test_python_key_may_be_given_by_keyword() -> None:
    source = """\
        unleash.is_enabled(feature_name="kw-unleash", context={})
        of_client.get_boolean_value(flag_key="kw-openfeature", default_value=False)
        client.is_enabled(key="kw-relgate")
        """
    assert py(source) == [("kw-unleash", 1), ("kw-openfeature", 2), ("kw-relgate", 3)]


def test_openfeature_python_calls_are_references() -> None:
    source = """\
        from openfeature import api
        client = api.get_client()
        a = client.get_boolean_value("of-bool", False)
        b = client.get_string_details("of-string", "x")
        c = client.get_integer_value("of-int", 1)
        d = client.get_float_value("of-float", 1.0)
        e = client.get_object_value("of-object", {})
        """
    assert [key for key, _ in py(source)] == [
        "of-bool",
        "of-string",
        "of-int",
        "of-float",
        "of-object",
    ]


def test_a_string_equal_to_a_flag_key_elsewhere_is_not_a_reference() -> None:
    source = '''\
        """Use client.is_enabled("in-a-docstring") to check."""
        FLAG_DOC = "express-checkout-v2 is our new checkout"
        logger.info("express-checkout-v2")
        # client.is_enabled("in-a-comment")
        headers = {"express-checkout-v2": "1"}
        other.enabled("express-checkout-v2")
        '''
    assert py(source) == []


def test_dynamic_keys_are_not_guessed() -> None:
    source = """\
        client.is_enabled(f"checkout-{version}")
        client.is_enabled(name)
        client.is_enabled("has spaces")
        client.is_enabled(*args)
        """
    assert py(source) == []


def test_a_module_constant_or_enum_member_of_the_same_file_is_resolved() -> None:
    source = """\
        from enum import Enum

        CHECKOUT: str = "express-checkout-v2"

        class Flags(str, Enum):
            BANNER = "summer-banner"

        client.is_enabled(CHECKOUT)
        client.is_enabled(Flags.BANNER)
        client.is_enabled(Flags.BANNER.value)
        """
    assert py(source) == [
        ("express-checkout-v2", 8),
        ("summer-banner", 9),
        ("summer-banner", 10),
    ]


def test_aliases_make_wrappers_and_constants_of_other_files() -> None:
    rules = ReferenceRules.from_config(
        aliases={"feature_on": "is_enabled", "NEW_NAV": "new-navigation"}
    )
    source = """\
        from shop.flags import NEW_NAV, feature_on

        if feature_on("wrapped-flag", user):
            pass
        if client.is_enabled(NEW_NAV):
            pass
        if feature_on(flags.NEW_NAV):
            pass
        """
    assert py(source, rules) == [
        ("wrapped-flag", 3),
        ("new-navigation", 5),
        ("new-navigation", 7),
    ]


def test_a_multi_line_call_reports_the_line_of_the_key() -> None:
    source = """\
        enabled = client.is_enabled(
            "multi-line-flag",
            {"userId": "42"},
        )
        """
    found = python_references(textwrap.dedent(source), "app.py")
    assert found == [Reference("app.py", 2, 5, "multi-line-flag")]


def test_python_that_does_not_parse_gives_none() -> None:
    assert python_references("def broken(:\n  is_enabled('x')", "broken.py") is None


def test_patterns_apply_to_python_files_too() -> None:
    rules = ReferenceRules.from_config(patterns=[r"""@requires_flag\(["']([^"']+)["']\)"""])
    source = """\
        @requires_flag("decorated-flag")
        def view():
            pass
        """
    assert py(source, rules) == [("decorated-flag", 1)]


# --------------------------------------------------------------------------- other languages


def test_javascript_and_typescript_sdk_calls_are_references() -> None:
    source = """\
        import { initialize } from 'unleash-client';
        const unleash = initialize({ url: 'http://127.0.0.1:4242/api/', appName: 'shop' });
        if (unleash.isEnabled('express-checkout-v2', { userId })) { render(); }
        const variant = unleash.getVariant("button-colour", context);
        const dark = await client.getBooleanValue<boolean>(`dark-mode`, false);
        const enabled = useFlag('react-flag');
        console.log("express-checkout-v2");
        const tmpl = unleash.isEnabled(`checkout-${version}`);
        """
    assert text(source, "app.ts") == [
        ("express-checkout-v2", 3),
        ("button-colour", 4),
        ("dark-mode", 5),
        ("react-flag", 6),
    ]


def test_go_unleash_and_openfeature_calls_are_references() -> None:
    source = """\
        package main

        func handler(ctx context.Context) {
            if unleash.IsEnabled("go-flag", unleash.WithContext(uctx)) {
                serve()
            }
            v, err := client.BooleanValue(context.Background(), "go-openfeature", false, evalCtx)
            s, _ := client.StringValueDetails(ctx, "go-details", "a", evalCtx)
            fmt.Println("go-not-a-reference")
        }
        """
    assert text(source, "main.go") == [
        ("go-flag", 4),
        ("go-openfeature", 7),
        ("go-details", 8),
    ]


def test_java_and_kotlin_calls_are_references() -> None:
    java = """\
        public class Checkout {
            boolean on() { return unleash.isEnabled("java-flag", context); }
            Variant v() { return unleash.getVariant("java-variant"); }
            Boolean of() { return client.getBooleanValue("java-openfeature", false); }
        }
        """
    kotlin = """\
        val on = unleash.isEnabled("kotlin-flag")
        """
    assert text(java, "Checkout.java") == [
        ("java-flag", 2),
        ("java-variant", 3),
        ("java-openfeature", 4),
    ]
    assert text(kotlin, "Checkout.kt") == [("kotlin-flag", 1)]


def test_ruby_calls_with_or_without_parentheses_are_references() -> None:
    source = """\
        if UNLEASH.is_enabled? "ruby-flag", @unleash_context
          puts "on"
        end
        value = client.fetch_boolean_value(flag_key: "ruby-openfeature", default_value: false)
        enabled = UNLEASH.is_enabled?("ruby-parens")
        """
    assert text(source, "checkout.rb") == [
        ("ruby-flag", 1),
        ("ruby-openfeature", 4),
        ("ruby-parens", 5),
    ]


def test_csharp_and_php_calls_are_references() -> None:
    csharp = 'var on = unleash.IsEnabled("dotnet-flag");\n'
    csharp += 'var of = await client.GetBooleanValueAsync("dotnet-openfeature", false);\n'
    php = "<?php if ($unleash->isEnabled('php-flag')) { echo 'on'; }\n"
    assert text(csharp, "Checkout.cs") == [("dotnet-flag", 1), ("dotnet-openfeature", 2)]
    assert text(php, "index.php") == [("php-flag", 1)]


def test_a_call_name_inside_a_longer_name_is_not_a_reference() -> None:
    source = """\
        const a = thisIsEnabled("x-flag");
        const b = isEnabledFor("y-flag");
        const c = myvariant("z-flag");
        """
    assert text(source, "app.js") == []


def test_aliased_wrappers_and_constants_work_in_other_languages() -> None:
    rules = ReferenceRules.from_config(
        aliases={"featureOn": "isEnabled", "NEW_NAV": "new-navigation"}
    )
    source = """\
        if (featureOn('wrapped-js')) {}
        if (unleash.isEnabled(Flags.NEW_NAV)) {}
        if (unleash.isEnabled(NEW_NAV, ctx)) {}
        if (unleash.isEnabled(OTHER_CONSTANT)) {}
        """
    assert text(source, "app.js", rules) == [
        ("wrapped-js", 1),
        ("new-navigation", 2),
        ("new-navigation", 3),
    ]


def test_a_custom_pattern_finds_keys_with_its_group() -> None:
    rules = ReferenceRules.from_config(
        patterns=[r"<Feature\s+name=\"([^\"]+)\"", r"flag!\((?P<key>[\w-]+)\)"]
    )
    source = """\
        <Feature name="jsx-feature">
          <NewCheckout />
        </Feature>
        let on = flag!(rust-macro-flag);
        """
    assert text(source, "App.jsx", rules) == [("jsx-feature", 1), ("rust-macro-flag", 4)]


def test_a_pattern_without_a_group_or_broken_is_refused_with_its_index() -> None:
    with pytest.raises(BadInput, match=r"patterns\[1\].*needs a group"):
        ReferenceRules.from_config(patterns=[r"f\('(.+)'\)", r"no-group"])
    with pytest.raises(BadInput, match=r"patterns\[0\].*not a regular expression"):
        ReferenceRules.from_config(patterns=["(unclosed"])


def test_an_alias_that_is_neither_a_call_nor_a_key_is_refused() -> None:
    with pytest.raises(BadInput, match=r"aliases\.WEIRD"):
        ReferenceRules.from_config(aliases={"WEIRD": "not a key"})


# --------------------------------------------------------------------------- files and folders


def write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content))


def test_find_references_walks_folders_and_skips_dependencies_and_vendored_code(
    tmp_path: Path,
) -> None:
    write(tmp_path / "src" / "app.py", 'client.is_enabled("python-flag")\n')
    write(tmp_path / "web" / "nav.tsx", "const on = useFlag('tsx-flag');\n")
    for skipped in ("node_modules/lib", ".git", ".venv/lib", "vendor/github.com/x", "dist"):
        write(tmp_path / skipped / "x.js", "unleash.isEnabled('skipped-flag');\n")
    write(tmp_path / "README.md", 'client.is_enabled("markdown-flag")\n')
    result = find_references([tmp_path])
    assert sorted(r.key for r in result.references) == ["python-flag", "tsx-flag"]
    assert result.files_scanned == 2


def test_paths_are_shown_as_given_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "src" / "shop" / "checkout.py", '\n\nclient.is_enabled("f")\n')
    monkeypatch.chdir(tmp_path)
    result = find_references([Path("src")])
    assert [r.location for r in result.references] == ["src/shop/checkout.py:3"]


def test_exclude_globs_skip_paths_and_names(tmp_path: Path) -> None:
    write(tmp_path / "src" / "app.js", "isEnabled('kept');\n")
    write(tmp_path / "src" / "app.test.js", "isEnabled('test-only');\n")
    write(tmp_path / "fixtures" / "deep" / "f.js", "isEnabled('fixture');\n")
    rules = ReferenceRules.from_config(exclude=["*.test.js", "fixtures/*"])
    result = find_references([tmp_path], rules)
    assert [r.key for r in result.references] == ["kept"]


def test_a_file_given_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "a.py", 'is_enabled("once")\n')
    result = find_references([tmp_path, tmp_path / "a.py"])
    assert [r.key for r in result.references] == ["once"]
    assert result.files_scanned == 1


def test_a_missing_path_is_bad_input_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no-such-dir: no such file or folder"):
        find_references([tmp_path / "no-such-dir"])


def test_binary_and_broken_python_files_do_not_stop_the_search(tmp_path: Path) -> None:
    (tmp_path / "blob.js").write_bytes(b"\x00\x01isEnabled('binary')\x00")
    write(tmp_path / "py2.py", 'print "old"\nclient.is_enabled("from-python-2")\n')
    found = file_references(tmp_path / "py2.py", "py2.py", ReferenceRules())
    assert [r.key for r in found] == ["from-python-2"]
    result = find_references([tmp_path])
    assert [r.key for r in result.references] == ["from-python-2"]


def test_columns_point_at_the_opening_quote_in_every_language() -> None:
    python = python_references('x = c.is_enabled("f")\n', "a.py")
    javascript = text_references('x = c.isEnabled("f")\n', "a.js")
    assert python is not None
    assert [r.column for r in python] == [18]
    assert [r.column for r in javascript] == [17]


def test_a_constant_defined_in_another_python_file_is_resolved(tmp_path: Path) -> None:
    write(
        tmp_path / "shop" / "flags.py",
        """\
        from enum import Enum

        EXPRESS_CHECKOUT = "express-checkout-v2"

        class Flag(str, Enum):
            NEW_NAV = "new-nav"
        """,
    )
    write(
        tmp_path / "shop" / "views.py",
        """\
        from shop.flags import EXPRESS_CHECKOUT, Flag

        def view(client):
            if client.is_enabled(EXPRESS_CHECKOUT):
                pass
            if client.is_enabled(Flag.NEW_NAV):
                pass
        """,
    )
    result = find_references([tmp_path])
    assert [(r.key, r.location) for r in result.references] == [
        ("express-checkout-v2", f"{tmp_path}/shop/views.py:4"),
        ("new-nav", f"{tmp_path}/shop/views.py:6"),
    ]


def test_constants_of_other_languages_resolve_across_files(tmp_path: Path) -> None:
    write(
        tmp_path / "web" / "flags.ts",
        """\
        export const NEW_NAV = 'new-nav';
        export const Flags = { darkMode: "dark-mode" } as const;
        """,
    )
    write(
        tmp_path / "web" / "nav.ts",
        """\
        import { NEW_NAV, Flags } from './flags';
        unleash.isEnabled(NEW_NAV);
        unleash.isEnabled(Flags.darkMode);
        """,
    )
    write(
        tmp_path / "api" / "Flags.java",
        'public final class Flags { public static final String PRICING = "pricing-v2"; }\n',
    )
    write(tmp_path / "api" / "Pricing.java", "boolean on = unleash.isEnabled(Flags.PRICING);\n")
    keys = {(r.key, Path(r.path).name) for r in find_references([tmp_path]).references}
    assert keys == {
        ("new-nav", "nav.ts"),
        ("dark-mode", "nav.ts"),
        ("pricing-v2", "Pricing.java"),
    }


def test_a_constant_with_two_values_in_the_project_is_not_guessed(tmp_path: Path) -> None:
    write(tmp_path / "a.py", 'CHECKOUT = "checkout-a"\n')
    write(tmp_path / "b.py", 'CHECKOUT = "checkout-b"\n')
    write(tmp_path / "c.py", "client.is_enabled(CHECKOUT)\n")
    assert find_references([tmp_path]).references == []


def test_a_lowercase_variable_of_another_file_is_not_taken_for_a_flag(tmp_path: Path) -> None:
    write(tmp_path / "config.js", "const name = 'shop-service';\n")
    write(tmp_path / "app.js", "function f(name) { return unleash.isEnabled(name); }\n")
    assert find_references([tmp_path]).references == []

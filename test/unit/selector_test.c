/*
 * selector_test.c: label selectors (phase4/kube/selector.h) as Kubernetes reads them: matchLabels
 * and matchExpressions, good shapes and bad, and which selectors are empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/kube/selector.h"
#include "testjson.h"

/* Whether selector (inline JSON, or NULL) matches labels (inline JSON, or NULL). */
static bool matches(const char *selector, const char *labels)
{
    cJSON *s = selector ? test_json(selector) : NULL;
    cJSON *l = labels ? test_json(labels) : NULL;
    bool m = p4_selector_matches(s, l);

    cJSON_Delete(s);
    cJSON_Delete(l);
    return m;
}

static const char *const web_pod =
    "{'app':'web','tier':'frontend','pod-template-hash':'6d4cf56db6'}";

static void match_labels_is_a_subset(void **state)
{
    (void)state;
    assert_true(matches("{'matchLabels':{'app':'web'}}", web_pod));
    assert_true(matches("{'matchLabels':{'app':'web','tier':'frontend'}}", web_pod));
    assert_true(matches("{'matchLabels':{'app':'web','tier':'frontend',"
                        "'pod-template-hash':'6d4cf56db6'}}",
                        web_pod));
    /* keys with dots and slashes are plain keys, not paths */
    assert_true(matches("{'matchLabels':{'app.kubernetes.io/name':'web'}}",
                        "{'app.kubernetes.io/name':'web'}"));
    assert_false(matches("{'matchLabels':{'app.kubernetes.io/name':'web'}}",
                         "{'app':{'kubernetes':{'io/name':'web'}}}"));
}

static void match_labels_mismatch_and_missing(void **state)
{
    (void)state;
    assert_false(matches("{'matchLabels':{'app':'db'}}", web_pod));
    assert_false(matches("{'matchLabels':{'app':'web','tier':'backend'}}", web_pod));
    assert_false(
        matches("{'matchLabels':{'app':'web','release':'stable'}}", web_pod)); /* missing */
    assert_false(matches("{'matchLabels':{'app':'Web'}}", web_pod)); /* case-sensitive value */
    assert_false(matches("{'matchLabels':{'App':'web'}}", web_pod)); /* case-sensitive key */
    assert_false(matches("{'matchLabels':{'app':''}}", web_pod));
    assert_false(matches("{'matchLabels':{'app':'web'}}", "{'app':1}")); /* a label not a string */
    assert_false(matches("{'matchLabels':{'app':'web'}}", "{}"));
    assert_false(matches("{'matchLabels':{'app':'web'}}", NULL));
    assert_false(matches("{'matchLabels':{'app':'web'}}", "['app','web']"));
    /* an empty value matches an empty label, as Kubernetes allows */
    assert_true(matches("{'matchLabels':{'canary':''}}", "{'canary':''}"));
}

static void match_expressions_in(void **state)
{
    (void)state;
    assert_true(matches("{'matchExpressions':[{'key':'tier','operator':'In',"
                        "'values':['backend','frontend']}]}",
                        web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'In',"
                         "'values':['backend','cache']}]}",
                         web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'zone','operator':'In','values':['a']}]}",
                         web_pod)); /* the label is missing */
    assert_false(
        matches("{'matchExpressions':[{'key':'tier','operator':'In','values':[]}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'In'}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'In',"
                         "'values':[1,null,true]}]}",
                         web_pod)); /* values that are not strings match no label */
}

static void match_expressions_not_in(void **state)
{
    (void)state;
    assert_true(matches("{'matchExpressions':[{'key':'tier','operator':'NotIn',"
                        "'values':['backend','cache']}]}",
                        web_pod));
    assert_true(matches("{'matchExpressions':[{'key':'zone','operator':'NotIn','values':['a']}]}",
                        web_pod)); /* the label is missing: nothing violates it */
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'NotIn',"
                         "'values':['backend','frontend']}]}",
                         web_pod));
}

static void match_expressions_exists(void **state)
{
    (void)state;
    assert_true(matches("{'matchExpressions':[{'key':'tier','operator':'Exists'}]}", web_pod));
    assert_true(matches("{'matchExpressions':[{'key':'canary','operator':'Exists'}]}",
                        "{'canary':''}")); /* an empty value is there */
    assert_false(matches("{'matchExpressions':[{'key':'zone','operator':'Exists'}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'Exists'}]}", NULL));
}

static void match_expressions_does_not_exist(void **state)
{
    (void)state;
    assert_true(
        matches("{'matchExpressions':[{'key':'zone','operator':'DoesNotExist'}]}", web_pod));
    assert_false(
        matches("{'matchExpressions':[{'key':'tier','operator':'DoesNotExist'}]}", web_pod));
}

/* Shapes the API server refuses (labels.NewRequirement) match nothing. */
static void malformed_expressions_match_nothing(void **state)
{
    (void)state;
    /* values a string, an object, absent or empty for a set operator */
    assert_false(matches("{'matchExpressions':[{'key':'app','operator':'NotIn','values':'web'}]}",
                         "{'app':'web'}"));
    assert_false(
        matches("{'matchExpressions':[{'key':'app','operator':'In','values':{'x':'web'}}]}",
                "{'app':'web'}"));
    assert_false(
        matches("{'matchExpressions':[{'key':'app','operator':'NotIn'}]}", "{'app':'web'}"));
    assert_false(matches("{'matchExpressions':[{'key':'app','operator':'NotIn','values':[]}]}",
                         "{'app':'web'}"));
    assert_false(matches("{'matchExpressions':[{'key':'app','operator':'In','values':['web',1]}]}",
                         "{'app':'web'}"));
    /* values for Exists and DoesNotExist */
    assert_false(matches("{'matchExpressions':[{'key':'app','operator':'Exists','values':['db']}]}",
                         "{'app':'web'}"));
    assert_false(matches(
        "{'matchExpressions':[{'key':'x','operator':'DoesNotExist','values':['a']}]}", NULL));
    /* null is absent */
    assert_true(
        matches("{'matchLabels':null,'matchExpressions':[{'key':'app','operator':'Exists'}]}",
                "{'app':'web'}"));
    assert_true(matches("{'matchLabels':{'app':'web'},'matchExpressions':null}", "{'app':'web'}"));
    assert_false(matches("{'matchLabels':null}", "{'app':'web'}"));
}

static void match_labels_and_expressions_all_hold(void **state)
{
    const char *sel = "{'matchLabels':{'app':'web'},'matchExpressions':["
                      "{'key':'tier','operator':'In','values':['frontend']},"
                      "{'key':'pod-template-hash','operator':'Exists'},"
                      "{'key':'zone','operator':'DoesNotExist'},"
                      "{'key':'track','operator':'NotIn','values':['canary']}]}";

    (void)state;
    assert_true(matches(sel, web_pod));
    assert_false(matches(sel, "{'app':'web','tier':'frontend','pod-template-hash':'x',"
                              "'track':'canary'}"));
    assert_false(matches(sel, "{'app':'web','tier':'frontend','pod-template-hash':'x',"
                              "'zone':'a'}"));
    assert_false(matches(sel, "{'app':'db','tier':'frontend','pod-template-hash':'x'}"));
    assert_false(matches(sel, "{'app':'web','tier':'frontend'}"));
}

static void unknown_operator_matches_nothing(void **state)
{
    (void)state;
    assert_false(
        matches("{'matchExpressions':[{'key':'tier','operator':'Gt','values':['1']}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':'in',"
                         "'values':['frontend']}]}",
                         web_pod)); /* operators are case-sensitive */
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':''}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':'tier'}]}", web_pod)); /* no operator */
    assert_false(matches("{'matchExpressions':[{'key':'tier','operator':1}]}", web_pod));
    /* one bad expression spoils the rest */
    assert_false(matches("{'matchLabels':{'app':'web'},'matchExpressions':["
                         "{'key':'tier','operator':'Exists'},{'key':'tier','operator':'Near'}]}",
                         web_pod));
}

static void null_or_empty_selector_matches_nothing(void **state)
{
    (void)state;
    assert_false(matches(NULL, web_pod));
    assert_false(matches(NULL, NULL));
    assert_false(matches("{}", web_pod));
    assert_false(matches("{}", NULL));
    assert_false(matches("{'matchLabels':{}}", web_pod));
    assert_false(matches("{'matchExpressions':[]}", web_pod));
    assert_false(matches("{'matchLabels':{},'matchExpressions':[]}", web_pod));
    assert_false(matches("{'app':'web'}", web_pod)); /* a label map is not a selector */
}

static void wrong_shapes_match_nothing(void **state)
{
    (void)state;
    /* the selector itself */
    assert_false(matches("[{'matchLabels':{'app':'web'}}]", web_pod));
    assert_false(matches("'app=web'", web_pod));
    assert_false(matches("null", web_pod));
    /* matchLabels not an object */
    assert_false(matches("{'matchLabels':['app','web']}", web_pod));
    assert_false(matches("{'matchLabels':'app=web'}", web_pod));
    assert_false(matches("{'matchLabels':[]}", web_pod));
    assert_false(matches("{'matchLabels':'app=web','matchExpressions':["
                         "{'key':'app','operator':'Exists'}]}",
                         web_pod));
    /* matchExpressions not an array */
    assert_false(matches("{'matchExpressions':{'key':'app','operator':'Exists'}}", web_pod));
    assert_false(matches("{'matchLabels':{'app':'web'},'matchExpressions':{}}", web_pod));
    assert_false(matches("{'matchLabels':{'app':'web'},'matchExpressions':'app'}", web_pod));
    /* a matchLabels value that is not a string */
    assert_false(matches("{'matchLabels':{'app':1}}", "{'app':'1'}"));
    assert_false(matches("{'matchLabels':{'app':null}}", "{'app':'null'}"));
    assert_false(matches("{'matchLabels':{'app':['web']}}", web_pod));
    assert_false(matches("{'matchLabels':{'app':'web','tier':true}}", web_pod));
    /* an expression without a key, or not an object */
    assert_false(matches("{'matchExpressions':[{'operator':'Exists'}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'operator':'DoesNotExist'}]}", web_pod));
    assert_false(matches("{'matchExpressions':[{'key':1,'operator':'DoesNotExist'}]}", web_pod));
    assert_false(
        matches("{'matchExpressions':[{'key':null,'operator':'NotIn','values':['a']}]}", web_pod));
    assert_false(matches("{'matchExpressions':['app']}", web_pod));
    assert_false(matches("{'matchExpressions':[null]}", NULL));
    assert_false(matches("{'matchLabels':{'app':'web'},'matchExpressions':["
                         "{'operator':'Exists'}]}",
                         web_pod));
}

/* A pod without labels: only terms that ask for absence hold, and there must be one. */
static void labels_null_matches_absence_only(void **state)
{
    (void)state;
    assert_true(matches("{'matchExpressions':[{'key':'app','operator':'DoesNotExist'}]}", NULL));
    assert_true(
        matches("{'matchExpressions':[{'key':'app','operator':'NotIn','values':['web']}]}", NULL));
    assert_true(matches("{'matchExpressions':[{'key':'app','operator':'NotIn','values':['web']},"
                        "{'key':'tier','operator':'DoesNotExist'}]}",
                        NULL));
    assert_true(matches("{'matchExpressions':[{'key':'app','operator':'DoesNotExist'}]}", "{}"));
    assert_false(
        matches("{'matchExpressions':[{'key':'app','operator':'In','values':['web']}]}", NULL));
    assert_false(matches("{'matchLabels':{'app':'web'},'matchExpressions':["
                         "{'key':'tier','operator':'DoesNotExist'}]}",
                         NULL));
}

/* Which selectors have no term: those a ServiceMonitor reads as "every Service". */
static void empty_selectors(void **state)
{
    static const char *const empty[] = {
        "null", "{}", "{'matchLabels':{}}", "{'matchExpressions':[]}",
        "{'matchLabels':null,'matchExpressions':null}", "{'matchLabels':{},'matchExpressions':[]}",
        /* unknown members are dropped, as Kubernetes' JSON does */
        "{'app':'web'}"};
    static const char *const not_empty[] = {
        "{'matchLabels':{'app':'web'}}",
        "{'matchExpressions':[{'key':'a','operator':'Exists'}]}",
        "{'matchExpressions':[null]}",
        "{'matchLabels':'app=web'}",
        "{'matchExpressions':{}}",
        "[]",
        "'app=web'",
        "1"};

    (void)state;
    assert_true(p4_selector_empty(NULL));
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        cJSON *s = test_json(empty[i]);
        if (!p4_selector_empty(s))
            fail_msg("%s is empty", empty[i]);
        cJSON_Delete(s);
        assert_false(matches(empty[i], web_pod)); /* and matches nothing here */
    }
    for (size_t i = 0; i < sizeof(not_empty) / sizeof(not_empty[0]); i++) {
        cJSON *s = test_json(not_empty[i]);
        if (p4_selector_empty(s))
            fail_msg("%s is not empty", not_empty[i]);
        cJSON_Delete(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(match_labels_is_a_subset),
        cmocka_unit_test(match_labels_mismatch_and_missing),
        cmocka_unit_test(match_expressions_in),
        cmocka_unit_test(match_expressions_not_in),
        cmocka_unit_test(match_expressions_exists),
        cmocka_unit_test(match_expressions_does_not_exist),
        cmocka_unit_test(malformed_expressions_match_nothing),
        cmocka_unit_test(match_labels_and_expressions_all_hold),
        cmocka_unit_test(unknown_operator_matches_nothing),
        cmocka_unit_test(null_or_empty_selector_matches_nothing),
        cmocka_unit_test(wrong_shapes_match_nothing),
        cmocka_unit_test(labels_null_matches_absence_only),
        cmocka_unit_test(empty_selectors),
    };
    return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}

/* statusnews_test.c: which status changes are news (written at once) and which only a wait's
   progress (written with the next news, or after the progress interval). */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/reconciler/statusnews.h"
#include "testjson.h"

/* The news of writing desired over written, both inline JSON. */
static enum p4_statusnews news_of(const char *written, const char *desired)
{
    cJSON *a = written ? test_json(written) : NULL, *b = test_json(desired);
    enum p4_statusnews n = p4_statusnews_compare(a, b);

    cJSON_Delete(a);
    cJSON_Delete(b);
    return n;
}

#define WAITING                                                                                    \
    "{'stage':'Kubernetes','conditions':[{'type':'Ready','status':'Unknown','reason':'"            \
    "Progressing',"                                                                                \
    "'message':'m'}],'gates':[{'stage':'Kubernetes','name':'PodsRunning','status':'Unknown',"      \
    "'reason':'Waiting','message':'0 of 1 workload(s) ready','lastTransitionTime':'T1'}],"         \
    "'health':{'namespace':'ns','deployments':'0/1','pods':'0/1','recentEvents':[]}}"

static void the_same_status_is_same(void **state)
{
    (void)state;
    assert_int_equal(news_of(WAITING, WAITING), P4_STATUSNEWS_SAME);
    /* an object's members in another order are the same JSON */
    assert_int_equal(news_of("{'a':1,'b':{'c':2,'d':3}}", "{'b':{'d':3,'c':2},'a':1}"),
                     P4_STATUSNEWS_SAME);
    assert_int_equal(news_of("{}", "{}"), P4_STATUSNEWS_SAME);
}

static void a_first_status_is_news(void **state)
{
    (void)state;
    assert_int_equal(news_of(NULL, WAITING), P4_STATUSNEWS_NEWS);
    assert_int_equal(news_of("'not an object'", WAITING), P4_STATUSNEWS_NEWS);
    assert_int_equal(news_of("[]", "{}"), P4_STATUSNEWS_NEWS);
}

static void a_gate_message_and_health_counts_are_progress(void **state)
{
    (void)state;
    /* the wait's message with another count, the pods and recent Events with it */
    assert_int_equal(
        news_of(WAITING,
                "{'stage':'Kubernetes','conditions':[{'type':'Ready','status':'Unknown','reason':"
                "'Progressing','message':'m'}],'gates':[{'stage':'Kubernetes','name':'PodsRunning',"
                "'status':'Unknown','reason':'Waiting','message':'0 of 1 workload(s) ready; 1 of 3 "
                "replicas updated','lastTransitionTime':'T1'}],'health':{'namespace':'ns',"
                "'deployments':'0/1','pods':'1/1','recentEvents':[{'reason':'BackOff'}]}}"),
        P4_STATUSNEWS_PROGRESS);
    /* health first seen without a problem is progress too */
    assert_int_equal(news_of("{'stage':'Kubernetes'}",
                             "{'stage':'Kubernetes','health':{'namespace':'ns','pods':'0/0'}}"),
                     P4_STATUSNEWS_PROGRESS);
}

static void gates_listed_before_they_start_are_progress(void **state)
{
    (void)state;
    /* a stage's gates listed as not checked yet: as if not listed */
    assert_int_equal(
        news_of(
            "{'stage':'Helm','gates':[{'stage':'Docker','name':'Built','status':'True','reason':"
            "'ImageExists'}]}",
            "{'stage':'Helm','gates':[{'stage':'Docker','name':'Built','status':'True','reason':"
            "'ImageExists'},{'stage':'Helm','name':'Lints','status':'Unknown','reason':"
            "'Checking','message':'not checked yet','lastTransitionTime':'T2'},{'stage':'Helm',"
            "'name':'Packaged','status':'Unknown','reason':'Checking','message':'not checked "
            "yet','lastTransitionTime':'T2'}]}"),
        P4_STATUSNEWS_PROGRESS);
    /* and a gate not started whose message says it runs now */
    assert_int_equal(news_of("{'gates':[{'name':'Lints','status':'Unknown','reason':'Checking',"
                             "'message':'not checked yet'}]}",
                             "{'gates':[{'name':'Lints','status':'Unknown','reason':'Checking',"
                             "'message':'running helm lint'}]}"),
                     P4_STATUSNEWS_PROGRESS);
}

static void a_gate_that_starts_or_finishes_is_news(void **state)
{
    (void)state;
    /* starts: its reason leaves Checking */
    assert_int_equal(news_of("{'gates':[{'name':'ResourcesCreated','status':'Unknown','reason':"
                             "'Checking','message':'not checked yet'}]}",
                             "{'gates':[{'name':'ResourcesCreated','status':'Unknown','reason':"
                             "'Applying','message':'applying 3 object(s)'}]}"),
                     P4_STATUSNEWS_NEWS);
    /* another step of it: its reason changes */
    assert_int_equal(news_of("{'gates':[{'name':'ResourcesCreated','status':'Unknown','reason':"
                             "'Recording','message':'m'}]}",
                             "{'gates':[{'name':'ResourcesCreated','status':'Unknown','reason':"
                             "'Applying','message':'m'}]}"),
                     P4_STATUSNEWS_NEWS);
    /* finishes */
    assert_int_equal(news_of(WAITING,
                             "{'stage':'Kubernetes','conditions':[{'type':'Ready','status':"
                             "'Unknown','reason':'Progressing','message':'m'}],'gates':[{'stage':"
                             "'Kubernetes','name':'PodsRunning','status':'True','reason':"
                             "'PodsRunning','message':'1 workload(s) ready','lastTransitionTime':"
                             "'T3'}],'health':{'namespace':'ns','deployments':'1/1','pods':'1/1',"
                             "'recentEvents':[]}}"),
                     P4_STATUSNEWS_NEWS);
    /* a gate that had passed, checked again (Unknown, Checking), is news: it no longer passes */
    assert_int_equal(news_of("{'gates':[{'name':'Lints','status':'True','reason':'LintPassed'}]}",
                             "{'gates':[{'name':'Lints','status':'Unknown','reason':'Checking'}]}"),
                     P4_STATUSNEWS_NEWS);
    /* a gate that goes away while it had started */
    assert_int_equal(news_of("{'gates':[{'name':'Lints','status':'Unknown','reason':'Running'}]}",
                             "{'gates':[]}"),
                     P4_STATUSNEWS_NEWS);
}

static void conditions_stage_and_records_are_news(void **state)
{
    (void)state;
    /* a condition's message alone */
    assert_int_equal(news_of("{'conditions':[{'type':'Ready','status':'Unknown','reason':'R',"
                             "'message':'checking the Docker stage'}]}",
                             "{'conditions':[{'type':'Ready','status':'Unknown','reason':'R',"
                             "'message':'checking the Helm stage'}]}"),
                     P4_STATUSNEWS_NEWS);
    assert_int_equal(news_of("{'stage':'Docker'}", "{'stage':'Helm'}"), P4_STATUSNEWS_NEWS);
    /* what a stage records for the next (the write-ahead inventory) */
    assert_int_equal(news_of("{'stage':'Kubernetes'}",
                             "{'stage':'Kubernetes','inventory':[{'kind':'Deployment'}]}"),
                     P4_STATUSNEWS_NEWS);
    /* a problem found since the verdict (Degraded) */
    assert_int_equal(news_of("{'health':{'pods':'1/1'}}",
                             "{'health':{'pods':'0/1','problem':'Pod web-1 is not ready'}}"),
                     P4_STATUSNEWS_NEWS);
    assert_int_equal(news_of("{'health':{'problem':'a'}}", "{'health':{'problem':'b'}}"),
                     P4_STATUSNEWS_NEWS);
    /* a gate's message together with news: news */
    assert_int_equal(news_of("{'verdict':'x','gates':[{'name':'G','status':'Unknown','reason':"
                             "'Waiting','message':'1'}]}",
                             "{'gates':[{'name':'G','status':'Unknown','reason':'Waiting',"
                             "'message':'2'}]}"),
                     P4_STATUSNEWS_NEWS);
}

static void odd_shapes_are_compared_whole(void **state)
{
    (void)state;
    /* gates that are not objects, health that is not an object: still compared, never a crash */
    assert_int_equal(news_of("{'gates':[1,'x',null]}", "{'gates':[1,'x',null]}"),
                     P4_STATUSNEWS_SAME);
    assert_int_equal(news_of("{'gates':[1]}", "{'gates':[2]}"), P4_STATUSNEWS_NEWS);
    assert_int_equal(news_of("{'gates':'x','health':3}", "{'gates':'x','health':4}"),
                     P4_STATUSNEWS_PROGRESS);
    assert_int_equal(news_of("{'gates':[{'name':'G','status':'Unknown','reason':7}]}",
                             "{'gates':[{'name':'G','status':'Unknown','reason':8}]}"),
                     P4_STATUSNEWS_NEWS);
    /* a member named twice (the API server never sends one): every copy is left out alike */
    assert_int_equal(news_of("{'stage':'S','health':{'pods':'1/1'},'health':{'pods':'1/2'}}",
                             "{'stage':'S','health':{'pods':'0/1'},'health':{'pods':'0/2'}}"),
                     P4_STATUSNEWS_PROGRESS);
    assert_string_equal(p4_statusnews_name(P4_STATUSNEWS_SAME), "same");
    assert_string_equal(p4_statusnews_name(P4_STATUSNEWS_PROGRESS), "progress");
    assert_string_equal(p4_statusnews_name(P4_STATUSNEWS_NEWS), "news");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_same_status_is_same),
        cmocka_unit_test(a_first_status_is_news),
        cmocka_unit_test(a_gate_message_and_health_counts_are_progress),
        cmocka_unit_test(gates_listed_before_they_start_are_progress),
        cmocka_unit_test(a_gate_that_starts_or_finishes_is_news),
        cmocka_unit_test(conditions_stage_and_records_are_news),
        cmocka_unit_test(odd_shapes_are_compared_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

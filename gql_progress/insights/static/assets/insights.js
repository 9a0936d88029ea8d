// The insights page: asks /graphql (with the key the user typed) for the analytics docs/analytics.md
// defines, and draws them as plain SVG.
//
// Every number a chart shows is also in the DOM as data (data-* attributes on each bar and point,
// a <title> for the pointer, and text labels), so that a reader without sight, a test, or a
// copy-paste gets the figures as the API returned them, not pixels. Colours come from classes in
// insights.css: the page's Content-Security-Policy allows no style attribute.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var STORAGE_KEY = "gql_progress.insights.key";
  var ENDPOINT = "graphql"; // relative: beside this page, under any mount prefix
  var DAY_MS = 86400000;

  var VIEWER = "query InsightsViewer { me { name role } }";
  // Pages of the server's default size (GQL_PROGRESS_DEFAULT_PAGE_SIZE), whatever its maximum.
  var PAGE = "nodes { slug title } pageInfo { hasNextPage endCursor }";
  var COURSES = "query InsightsCourses($after: String) { courses(after: $after) { " + PAGE + " } }";
  var TAUGHT =
    "query InsightsTaughtCourses($after: String) { me { taughtCourses(after: $after) { " + PAGE + " } } }";
  var COURSE = [
    "query InsightsCourse($slug: String!, $from: DateTime, $to: DateTime) {",
    "  courseAnalytics(course: {slug: $slug}, from: $from, to: $to) {",
    "    course { slug title }",
    "    enrolledLearners activeLearners completedLearners completionRate averageCompletionPercentage",
    "    medianTimeToCompletionDays p90TimeToCompletionDays totalActiveSeconds averageActiveSeconds",
    "    dropOff { lesson { id title position } reached reachedRate lost dropOffRate }",
    "    hardestLessons(limit: 5) { lesson { id title } started completed completionRateAmongStarted }",
    "  }",
    "}",
  ].join("\n");
  var DAILY = [
    "query InsightsDaily($from: DateTime!, $to: DateTime!) {",
    "  platformAnalytics(from: $from, to: $to) {",
    "    daily { date activeLearners lessonsCompleted coursesCompleted }",
    "  }",
    "}",
  ].join("\n");

  var $ = function (id) {
    return document.getElementById(id);
  };
  var viewer = null;
  var generation = 0; // a newer load makes an older one's answers stale

  // --- talking to the API ------------------------------------------------------------------------

  function ApiError(message) {
    this.message = message;
  }

  function currentKey() {
    return sessionStorage.getItem(STORAGE_KEY) || "";
  }

  async function gql(query, variables) {
    var response;
    try {
      response = await fetch(ENDPOINT, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
          Authorization: "Bearer " + currentKey(),
        },
        body: JSON.stringify({ query: query, variables: variables || {} }),
      });
    } catch (failure) {
      throw new ApiError("The server could not be reached: " + failure.message);
    }
    var body = null;
    try {
      body = await response.json();
    } catch (ignored) {
      throw new ApiError("The server answered " + response.status + " without a JSON body.");
    }
    var errors = (body && body.errors) || [];
    if (errors.length) {
      var code = errors[0].extensions && errors[0].extensions.code;
      if (code === "UNAUTHENTICATED") {
        throw new ApiError("The key was refused: " + errors[0].message + ".");
      }
      if (code === "FORBIDDEN") {
        throw new ApiError("This key may not see that: " + errors[0].message);
      }
      throw new ApiError(errors.map(function (e) { return e.message; }).join("; "));
    }
    if (!response.ok || !body || !body.data) {
      throw new ApiError("The server answered " + response.status + ".");
    }
    return body.data;
  }

  // --- the page's states ------------------------------------------------------------------------

  function setState(state) {
    document.body.dataset.state = state;
  }

  function showError(message) {
    var box = $("error");
    box.textContent = message;
    box.hidden = false;
    setState("error");
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  // Also empties them: after "Forget key", nothing the key could see stays in the page.
  function hideInsights() {
    ["funnel", "hardest", "completion-time", "daily"].forEach(plot);
    $("figures").replaceChildren();
    $("course-title").textContent = "";
    $("controls").hidden = true;
    $("course-insights").hidden = true;
    $("platform-insights").hidden = true;
    $("platform-note").hidden = true;
  }

  function fail(failure) {
    if (failure instanceof ApiError) {
      showError(failure.message);
    } else {
      showError("Something went wrong in this page: " + failure);
    }
  }

  // --- signing in --------------------------------------------------------------------------------

  async function signIn() {
    var mine = ++generation;
    clearError();
    hideInsights();
    setState("loading");
    var me = (await gql(VIEWER)).me;
    if (mine !== generation) return;
    if (me.role === "LEARNER") {
      viewer = null;
      $("who").textContent = "Signed in as " + me.name + " (learner).";
      showError(
        "This is a learner's key (" + me.name + "): insights show other learners' progress, so " +
          "they need an admin's key or the key of an instructor of the course."
      );
      return;
    }
    // An admin sees every course; an instructor the courses they teach.
    var courses = [];
    var after = null;
    for (var page = 0; page < 1000; page++) {
      var found =
        me.role === "ADMIN"
          ? (await gql(COURSES, { after: after })).courses
          : (await gql(TAUGHT, { after: after })).me.taughtCourses;
      courses = courses.concat(found.nodes);
      if (!found.pageInfo.hasNextPage || mine !== generation) break;
      after = found.pageInfo.endCursor;
    }
    if (mine !== generation) return;
    viewer = me;
    $("who").textContent =
      "Signed in as " + me.name + " (" + me.role.toLowerCase() + "). " +
      (me.role === "ADMIN" ? "Every course." : "The courses you teach.");
    var select = $("course");
    select.replaceChildren();
    courses.forEach(function (course) {
      var option = document.createElement("option");
      option.value = course.slug;
      option.textContent = course.title + " (" + course.slug + ")";
      select.appendChild(option);
    });
    $("controls").hidden = false;
    if (!courses.length) {
      showError(
        me.role === "ADMIN"
          ? "There is no course yet."
          : "You are assigned to no course yet: an admin assigns instructors (assignInstructor)."
      );
      return;
    }
    await loadAll();
  }

  async function loadAll() {
    var mine = ++generation;
    clearError();
    setState("loading");
    var jobs = [loadCourse(mine)];
    if (viewer.role === "ADMIN") {
      jobs.push(loadDaily(mine));
    } else {
      $("platform-insights").hidden = true;
      $("platform-note").hidden = false;
    }
    await Promise.all(jobs);
    if (mine === generation && document.body.dataset.state !== "error") setState("ready");
  }

  // --- dates -------------------------------------------------------------------------------------

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function startOf(day) {
    return day + "T00:00:00Z";
  }

  function dayAfter(day) {
    return isoDay(new Date(Date.parse(startOf(day)) + DAY_MS));
  }

  // --- the course --------------------------------------------------------------------------------

  async function loadCourse(mine) {
    var from = $("from").value;
    var through = $("to").value;
    var variables = {
      slug: $("course").value,
      from: from ? startOf(from) : null,
      // "through" a date: the window's end (exclusive) is the next day's start.
      to: through ? startOf(dayAfter(through)) : null,
    };
    var analytics = (await gql(COURSE, variables)).courseAnalytics;
    if (mine !== generation) return;
    if (analytics === null) {
      $("course-insights").hidden = true;
      showError("This key may not see the analytics of " + variables.slug + ".");
      return;
    }
    $("course-title").textContent = analytics.course.title;
    drawFigures(analytics);
    drawFunnel(analytics);
    drawHardest(analytics);
    drawCompletionTime(analytics);
    $("course-insights").hidden = false;
  }

  async function loadDaily(mine) {
    var days = Number($("days").value);
    var today = isoDay(new Date());
    var first = isoDay(new Date(Date.parse(startOf(today)) - (days - 1) * DAY_MS));
    var platform = (await gql(DAILY, { from: startOf(first), to: startOf(dayAfter(today)) }))
      .platformAnalytics;
    if (mine !== generation) return;
    drawDaily(platform.daily);
    $("platform-note").hidden = true;
    $("platform-insights").hidden = false;
  }

  // --- formatting --------------------------------------------------------------------------------

  function percent(rate) {
    return rate === null ? "–" : (Math.round(rate * 1000) / 10).toString() + " %";
  }

  function number(value, unit) {
    return value === null ? "–" : value.toString() + (unit ? " " + unit : "");
  }

  function duration(seconds) {
    if (seconds === null) return "–";
    var whole = Math.round(seconds);
    var hours = Math.floor(whole / 3600);
    var minutes = Math.floor((whole % 3600) / 60);
    var rest = whole % 60;
    return (hours ? hours + " h " : "") + (hours || minutes ? minutes + " min " : "") + rest + " s";
  }

  // --- drawing -----------------------------------------------------------------------------------

  function svg(tag, attributes, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, String(attributes[name]));
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // data-* attributes: the API's values as they came (an empty string for null).
  function carry(node, values) {
    Object.keys(values).forEach(function (name) {
      var value = values[name];
      node.dataset[name] = value === null || value === undefined ? "" : String(value);
    });
    return node;
  }

  function plot(figureId) {
    var target = $(figureId).querySelector(".plot");
    target.replaceChildren();
    return target;
  }

  function empty(target, chart, message) {
    var picture = svg("svg", { viewBox: "0 0 720 40", width: 720, height: 40, role: "img", "aria-label": message });
    picture.dataset.chart = chart;
    picture.appendChild(svg("text", { x: 8, y: 24, class: "empty" }, message));
    target.appendChild(picture);
  }

  // Horizontal bars: rows of {label, value, max, text, title, data}.
  function bars(target, chart, label, rows) {
    var rowHeight = 28;
    var labelWidth = 260;
    var barWidth = 300;
    var height = rows.length * rowHeight + 8;
    var picture = svg("svg", {
      viewBox: "0 0 720 " + height,
      width: 720,
      height: height,
      role: "img",
      "aria-label": label,
    });
    picture.dataset.chart = chart;
    rows.forEach(function (row, index) {
      var y = index * rowHeight + 4;
      var group = carry(svg("g", { class: "bar" }), row.data);
      group.appendChild(svg("title", {}, row.title));
      group.appendChild(svg("text", { class: "label", x: labelWidth - 8, y: y + 14 }, row.label));
      var share = row.max > 0 && row.value !== null ? Math.min(1, row.value / row.max) : 0;
      var width = Math.max(share * barWidth, row.value ? 1 : 0);
      group.appendChild(svg("rect", { x: labelWidth, y: y, width: width.toFixed(1), height: 18, rx: 2 }));
      group.appendChild(svg("text", { class: "value", x: labelWidth + width + 6, y: y + 14 }, row.text));
      picture.appendChild(group);
    });
    target.appendChild(picture);
  }

  function drawFigures(a) {
    var figures = [
      ["enrolledLearners", "Enrolled learners", number(a.enrolledLearners)],
      ["activeLearners", "Active learners", number(a.activeLearners)],
      ["completedLearners", "Completed", number(a.completedLearners)],
      ["completionRate", "Completion rate", percent(a.completionRate)],
      ["averageCompletionPercentage", "Average completion", number(a.averageCompletionPercentage, "%")],
      ["medianTimeToCompletionDays", "Median time to completion", number(a.medianTimeToCompletionDays, "days")],
      ["p90TimeToCompletionDays", "90th percentile", number(a.p90TimeToCompletionDays, "days")],
      ["totalActiveSeconds", "Active time (measured)", duration(a.totalActiveSeconds)],
      ["averageActiveSeconds", "Active time per learner", duration(a.averageActiveSeconds)],
    ];
    var list = $("figures");
    list.replaceChildren();
    figures.forEach(function (figure) {
      var item = document.createElement("div");
      var term = document.createElement("dt");
      term.textContent = figure[1];
      var value = document.createElement("dd");
      value.textContent = figure[2];
      carry(value, { figure: figure[0], value: a[figure[0]] });
      item.appendChild(term);
      item.appendChild(value);
      list.appendChild(item);
    });
  }

  function drawFunnel(a) {
    var target = plot("funnel");
    if (!a.dropOff.length) return empty(target, "funnel", "The course has no lessons.");
    var enrolled = a.enrolledLearners;
    bars(
      target,
      "funnel",
      "Completion funnel",
      a.dropOff.map(function (step) {
        var text = step.reached + " reached (" + percent(step.reachedRate) + "), " + step.lost + " lost";
        return {
          label: step.lesson.position + 1 + ". " + step.lesson.title,
          value: step.reached,
          max: enrolled,
          text: text,
          title: step.lesson.title + ": " + text + ", drop-off " + percent(step.dropOffRate),
          data: {
            lessonId: step.lesson.id,
            reached: step.reached,
            reachedRate: step.reachedRate,
            lost: step.lost,
            dropOffRate: step.dropOffRate,
          },
        };
      })
    );
  }

  function drawHardest(a) {
    var target = plot("hardest");
    if (!a.hardestLessons.length) {
      return empty(target, "hardest", "No lesson has been started by enough learners to be ranked yet.");
    }
    bars(
      target,
      "hardest",
      "Hardest lessons",
      a.hardestLessons.map(function (lesson, index) {
        var text = percent(lesson.completionRateAmongStarted) + " of " + lesson.started + " completed";
        return {
          label: index + 1 + ". " + lesson.lesson.title,
          value: lesson.completionRateAmongStarted,
          max: 1,
          text: text,
          title: lesson.lesson.title + ": " + lesson.completed + " of " + lesson.started + " completed",
          data: {
            lessonId: lesson.lesson.id,
            started: lesson.started,
            completed: lesson.completed,
            rate: lesson.completionRateAmongStarted,
          },
        };
      })
    );
  }

  function drawCompletionTime(a) {
    var target = plot("completion-time");
    if (a.medianTimeToCompletionDays === null) {
      return empty(target, "completion-time", "No learner of the cohort has completed the course yet.");
    }
    var rows = [
      ["median", "Median", a.medianTimeToCompletionDays],
      ["p90", "90th percentile", a.p90TimeToCompletionDays],
    ];
    bars(
      target,
      "completion-time",
      "Time to completion",
      rows.map(function (row) {
        return {
          label: row[1],
          value: row[2],
          max: a.p90TimeToCompletionDays,
          text: number(row[2], "days"),
          title: row[1] + ": " + number(row[2], "days") + " from enrolling to completing",
          data: { statistic: row[0], days: row[2] },
        };
      })
    );
  }

  function drawDaily(daily) {
    var target = plot("daily");
    var series = [
      ["activeLearners", "Active learners"],
      ["lessonsCompleted", "Lessons completed"],
      ["coursesCompleted", "Courses completed"],
    ];
    var width = 720;
    var height = 260;
    var left = 40;
    var right = 16;
    var top = 28;
    var bottom = 36;
    var highest = 1;
    daily.forEach(function (day) {
      series.forEach(function (s) {
        highest = Math.max(highest, day[s[0]]);
      });
    });
    var x = function (index) {
      var span = Math.max(daily.length - 1, 1);
      return left + (index * (width - left - right)) / span;
    };
    var y = function (value) {
      return top + (1 - value / highest) * (height - top - bottom);
    };
    var picture = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: width,
      height: height,
      role: "img",
      "aria-label": "The platform's daily activity",
    });
    picture.dataset.chart = "daily";
    picture.appendChild(svg("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    picture.appendChild(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: y(0) }));
    picture.appendChild(svg("text", { class: "label", x: left - 6, y: y(highest) + 4 }, String(highest)));
    picture.appendChild(svg("text", { class: "label", x: left - 6, y: y(0) + 4 }, "0"));
    if (daily.length) {
      picture.appendChild(svg("text", { x: left, y: height - 12 }, daily[0].date));
      picture.appendChild(
        svg("text", { x: width - right, y: height - 12, class: "label" }, daily[daily.length - 1].date)
      );
    }
    series.forEach(function (s, index) {
      var name = s[0];
      var group = carry(svg("g", { class: "series series-" + name }), { series: name });
      group.appendChild(svg("text", { x: left + 8 + index * 170, y: 14, class: "series-" + name }, s[1]));
      var points = daily.map(function (day, i) {
        return x(i).toFixed(1) + "," + y(day[name]).toFixed(1);
      });
      group.appendChild(svg("polyline", { class: "line series-" + name, points: points.join(" ") }));
      daily.forEach(function (day, i) {
        var point = carry(svg("circle", { cx: x(i).toFixed(1), cy: y(day[name]).toFixed(1), r: 3 }), {
          series: name,
          date: day.date,
          value: day[name],
        });
        point.appendChild(svg("title", {}, day.date + ": " + day[name] + " " + s[1].toLowerCase()));
        group.appendChild(point);
      });
      picture.appendChild(group);
    });
    target.appendChild(picture);
  }

  // --- wiring ------------------------------------------------------------------------------------

  function start() {
    // A link may carry the key in its fragment (/insights#key=…): kept for this tab, then taken
    // out of the address bar, where it would be seen and bookmarked.
    var fromLink = (new URLSearchParams(window.location.hash.slice(1)).get("key") || "").trim();
    if (fromLink) {
      sessionStorage.setItem(STORAGE_KEY, fromLink);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(STORAGE_KEY, key);
      $("key").value = "";
      signIn().catch(fail);
    });
    $("forget-key").addEventListener("click", function () {
      generation++;
      sessionStorage.removeItem(STORAGE_KEY);
      viewer = null;
      hideInsights();
      clearError();
      $("who").textContent = "Sign in with an admin's or an instructor's API key.";
      setState("signed-out");
    });
    ["course", "from", "to", "days"].forEach(function (id) {
      $(id).addEventListener("change", function () {
        if (viewer) loadAll().catch(fail);
      });
    });
    if (currentKey()) {
      signIn().catch(fail);
    } else {
      setState("signed-out");
    }
  }

  start();
})();

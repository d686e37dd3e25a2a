# Reference values for tests/test_outcomes.py, computed with R (Debian r-base-core 4.2, nlme, MASS).
# Run: Rscript tests/reference/reference.R  (from the repository root)
suppressPackageStartupMessages({library(nlme); library(MASS)})
options(digits = 15)
out <- function(name, x) cat(sprintf("%s = %.15g\n", name, x))
rd <- function(f) {
  d <- read.csv(f, stringsAsFactors = FALSE)
  d$site <- factor(d$site, levels = c("london", "wolverhampton", "bristol"))
  d$site <- droplevels(d$site)
  d
}
for (o in c("abi_physical", "abi_psychological")) {
  d <- rd(sprintf("tests/reference/%s.csv", o))
  cc <- d[!is.na(d$y) & !is.na(d$base), ]
  cc$arm <- factor(cc$arm)
  m <- lm(y ~ treat + base + site, data = cc)
  out(sprintf("%s lm estimate", o), coef(m)["treat"])
  ci <- confint(m)["treat", ]
  out(sprintf("%s lm lower", o), ci[1]); out(sprintf("%s lm upper", o), ci[2])
  h <- lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
           weights = varIdent(form = ~ 1 | arm), data = cc, method = "REML")
  iv <- intervals(h, which = "fixed")$fixed["treat", ]
  out(sprintf("%s lme_het estimate", o), iv["est."])
  out(sprintf("%s lme_het lower", o), iv["lower"]); out(sprintf("%s lme_het upper", o), iv["upper"])
  out(sprintf("%s lme_het df", o), summary(h)$tTable["treat", "DF"])
  out(sprintf("%s lme_het se", o), summary(h)$tTable["treat", "Std.Error"])
  out(sprintf("%s lme_het loglik", o), logLik(h))
  e <- lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)), data = cc, method = "REML")
  iv <- intervals(e, which = "fixed")$fixed["treat", ]
  out(sprintf("%s lme_eq estimate", o), iv["est."])
  out(sprintf("%s lme_eq lower", o), iv["lower"]); out(sprintf("%s lme_eq upper", o), iv["upper"])
  out(sprintf("%s lme_eq df", o), summary(e)$tTable["treat", "DF"])
  out(sprintf("%s lme_eq loglik", o), logLik(e))
  # two-stage least squares by hand, HC1 (as sandwich::vcovHC(ivreg, type = "HC1"))
  for (th in c("met_any_session", "met_half_of_compulsory")) {
    X <- model.matrix(~ treat + base + site, cc); W <- X; W[, "treat"] <- cc[[th]]
    Xh <- X %*% solve(crossprod(X), crossprod(X, W))
    b <- solve(crossprod(Xh, W), crossprod(Xh, cc$y)); u <- as.vector(cc$y - W %*% b)
    n <- nrow(W); k <- ncol(W); B <- solve(crossprod(Xh))
    V <- B %*% crossprod(Xh * u) %*% B * n / (n - k)
    se <- sqrt(V[2, 2]); q <- qt(0.975, n - k)
    out(sprintf("%s cace %s estimate", o, th), b[2])
    out(sprintf("%s cace %s lower", o, th), b[2] - q * se); out(sprintf("%s cace %s upper", o, th), b[2] + q * se)
  }
}
d <- rd("tests/reference/physical_more_than_rarely.csv")
cc <- d[!is.na(d$y) & !is.na(d$base), ]
g <- glm(y ~ treat + base + site, family = binomial, data = cc, control = glm.control(epsilon = 1e-14, maxit = 100))
ci <- confint.default(g)["treat", ]
out("binary or estimate", exp(coef(g)["treat"])); out("binary or lower", exp(ci[1])); out("binary or upper", exp(ci[2]))
X1 <- model.matrix(g); X1[, "treat"] <- 1; X0 <- model.matrix(g); X0[, "treat"] <- 0
p1 <- plogis(X1 %*% coef(g)); p0 <- plogis(X0 %*% coef(g))
rdiff <- mean(p1) - mean(p0)
grad <- colMeans(X1 * as.vector(p1 * (1 - p1))) - colMeans(X0 * as.vector(p0 * (1 - p0)))
se <- sqrt(t(grad) %*% vcov(g) %*% grad)
out("binary std rd estimate", rdiff); out("binary std rd lower", rdiff - qnorm(0.975) * se)
out("binary std rd upper", rdiff + qnorm(0.975) * se)
k <- read.csv("tests/reference/counts.csv", stringsAsFactors = FALSE)
k$site <- factor(k$site, levels = c("london", "wolverhampton", "bristol"))
nb <- glm.nb(y ~ treat + base + site, data = k, control = glm.control(epsilon = 1e-12, maxit = 100))
ci <- confint.default(nb)["treat", ]
out("count rr estimate", exp(coef(nb)["treat"])); out("count rr lower", exp(ci[1])); out("count rr upper", exp(ci[2]))
out("count theta", nb$theta)
# paired change (single-arm)
a <- read.csv("tests/reference/abi_physical.csv"); a <- a[!is.na(a$y) & !is.na(a$base), ]
tt <- t.test(a$y, a$base, paired = TRUE)
out("change estimate", tt$estimate); out("change lower", tt$conf.int[1]); out("change upper", tt$conf.int[2])
# Rubin's rules with Barnard-Rubin df, by hand (as mice::pool): m = 5 typed-in estimates and variances
q <- c(-0.21, -0.18, -0.25, -0.20, -0.23); u <- c(0.0061, 0.0058, 0.0065, 0.0060, 0.0063); m <- 5; dfcom <- 47
qbar <- mean(q); ubar <- mean(u); b <- var(q); tv <- ubar + (1 + 1/m) * b
lambda <- (1 + 1/m) * b / tv; dfold <- (m - 1) / lambda^2
dfobs <- (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lambda); df <- dfold * dfobs / (dfold + dfobs)
out("pool estimate", qbar); out("pool total", tv); out("pool df", df)
out("pool lower", qbar - qt(0.975, df) * sqrt(tv)); out("pool upper", qbar + qt(0.975, df) * sqrt(tv))
